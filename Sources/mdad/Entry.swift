#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// mdad's entry point: argument parsing and wiring only; the work lives in the libraries.
@main
enum Entry {
    static func main() async {
        // A file-size limit must surface as EFBIG (a deferral), not kill the process; a closed
        // pipe must surface as EPIPE.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)

        let arguments = CommandLine.arguments
        let programName = arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "mdad"

        switch programName {
        case "newaliases":
            var dir: String?
            if let i = arguments.firstIndex(of: "-C"), i + 1 < arguments.count { dir = arguments[i + 1] }
            exit(PostmapCommand.newaliases(configDirectory: dir))
        case "postmap", "postalias":
            exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst()), kind: programName == "postmap" ? .postmap : .postalias))
        case "sendmail", "mailq":
            // Postfix's names for these verbs dispatch here once the issues that own them land.
            FileHandleStderr.write("\(EnhancedStatus.temporaryFailure) mdad: \(programName) is not available yet in this build\n")
            exit(SysExit.tempFail.rawValue)
        default:
            break
        }

        // `deliver` chooses its exit codes itself (sysexits, never swift-argument-parser's 1).
        if arguments.count > 1 {
            switch arguments[1] {
            case "postmap": exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst(2)), kind: .postmap))
            case "postalias": exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst(2)), kind: .postalias))
            case "newaliases":
                let rest = Array(arguments.dropFirst(2))
                var dir: String?
                if let i = rest.firstIndex(where: { $0 == "-c" || $0 == "-C" }), i + 1 < rest.count { dir = rest[i + 1] }
                exit(PostmapCommand.newaliases(configDirectory: dir))
            default: break
            }
        }
        if arguments.count > 1 && arguments[1] == "deliver" {
            exit(await DeliverCommand.runFromCommandLine(Array(arguments.dropFirst(2))).rawValue)
        }
        await MdadCommand.main()
    }
}

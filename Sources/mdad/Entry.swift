#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// mdad's entry point: argument parsing and wiring only; the work lives in the libraries.
@main
enum Entry {
    static func main() async {
        LocalDeliveryAgent.prepareProcess()

        let arguments = CommandLine.arguments
        let programName = arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "mdad"

        switch programName {
        case "newaliases":
            exit(PostmapCommand.newaliasesFromCommandLine(Array(arguments.dropFirst())))
        case "postmap", "postalias":
            exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst()), kind: programName == "postmap" ? .postmap : .postalias))
        case "procmail":
            exit(ProcmailCommand.runFromCommandLine(Array(arguments.dropFirst())))
        case "sendmail", "mailq":
            // Postfix's names for these verbs dispatch here once the issues that own them land.
            FileHandleStderr.write("\(EnhancedStatus.temporaryFailure) mdad: \(programName) is not available yet in this build\n")
            exit(SysExit.tempFail.rawValue)
        default:
            break
        }

        // These choose their exit codes themselves (sysexits for deliver, Postfix's for the
        // table commands), never swift-argument-parser's 1.
        if arguments.count > 1 {
            switch arguments[1] {
            case "postmap": exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst(2)), kind: .postmap))
            case "postalias": exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst(2)), kind: .postalias))
            case "newaliases": exit(PostmapCommand.newaliasesFromCommandLine(Array(arguments.dropFirst(2))))
            case "deliver": exit(await LocalDeliveryAgent.runFromCommandLine(Array(arguments.dropFirst(2))).rawValue)
            case "procmail": exit(ProcmailCommand.runFromCommandLine(Array(arguments.dropFirst(2))))
            case "rules" where arguments.contains("--procmailrc") || arguments.dropFirst(2).first == "convert":
                exit(ProcmailTestCommand.runFromCommandLine(Array(arguments.dropFirst(2))))
            default: break
            }
        }
        await MdadCommand.main()
    }
}

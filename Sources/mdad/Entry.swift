#if canImport(Glibc)
import Glibc
#endif
import PgsqlTable
import Pipeline
import Plugins
import Spam

/// mdad's entry point: argument parsing and wiring only; the work lives in the libraries.
@main
enum Entry {
    static func main() async {
        LocalDeliveryAgent.prepareProcess()
        // `pgsql:` tables for every table this process opens (deliver, serve, postmap).
        PgsqlTableType.register()

        let arguments = CommandLine.arguments
        let programName = arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "mdad"

        switch programName {
        case "newaliases":
            exit(PostmapCommand.newaliasesFromCommandLine(Array(arguments.dropFirst())))
        case "postmap", "postalias":
            exit(PostmapCommand.runFromCommandLine(Array(arguments.dropFirst()), kind: programName == "postmap" ? .postmap : .postalias))
        case "sendmail":
            exit(SendmailCommand.run(Array(arguments.dropFirst())))
        case "mailq":
            exit(MailqCommand.run(["-p"] + Array(arguments.dropFirst())))
        case "procmail":
            exit(ProcmailCommand.runFromCommandLine(Array(arguments.dropFirst())))
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
            case "sendmail": exit(SendmailCommand.run(Array(arguments.dropFirst(2))))
            case "mailq": exit(MailqCommand.run(["-p"] + Array(arguments.dropFirst(2))))
            case "postqueue": exit(MailqCommand.run(Array(arguments.dropFirst(2))))
            case "postsuper": exit(PostsuperCommand.run(Array(arguments.dropFirst(2))))
            case "spam": exit(SpamCommand.run(Array(arguments.dropFirst(2)), table: StageRegistry.builtin.parameterTable))
            case "sieve-test": exit(SieveTestCommand.runFromCommandLine(Array(arguments.dropFirst(2))))
            case "sievec": exit(SieveTestCommand.sievec(Array(arguments.dropFirst(2))))
            case "procmail": exit(ProcmailCommand.runFromCommandLine(Array(arguments.dropFirst(2))))
            case "rules" where arguments.contains("--procmailrc") || arguments.dropFirst(2).first == "convert":
                exit(ProcmailTestCommand.runFromCommandLine(Array(arguments.dropFirst(2))))
            default: break
            }
        }
        await MdadCommand.main()
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// `mdad-procmail ARGS` is `mdad procmail ARGS`: the same code, in a program that links only the
/// delivery libraries, because it starts once per message behind mailbox_command or .forward.
@main
enum Entry {
    static func main() {
        LocalDeliveryAgent.prepareProcess()
        exit(ProcmailCommand.runFromCommandLine(Array(CommandLine.arguments.dropFirst())))
    }
}

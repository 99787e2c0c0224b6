#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// `mdad-deliver ARGS` is `mdad deliver ARGS`: the same code, in a program that links only the
/// delivery libraries, because its start-up is part of every delivery behind mailbox_command.
@main
enum Entry {
    static func main() async {
        LocalDeliveryAgent.prepareProcess()
        exit(await LocalDeliveryAgent.runFromCommandLine(Array(CommandLine.arguments.dropFirst())).rawValue)
    }
}

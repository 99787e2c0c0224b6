#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// `mdad-deliver ARGS` is `mdad deliver ARGS`: the same code, in a program that links only the
/// delivery libraries, because its start-up is part of every delivery behind mailbox_command.
/// The delivery runs on the main thread (`MainThreadExecutor`): a plain local delivery starts
/// no other thread.
@main
enum Entry {
    static func main() {
        LocalDeliveryAgent.prepareProcess()
        let args = Array(CommandLine.arguments.dropFirst())
        // Built fully static (bench/build-release.sh), it answers user lookups from the files
        // and hands anything else to the dynamically linked mdad next to it.
        StaticNSS.prepare(command: "deliver", arguments: args)
        exit(MainThreadExecutor().run { await LocalDeliveryAgent.runFromCommandLine(args).rawValue })
    }
}

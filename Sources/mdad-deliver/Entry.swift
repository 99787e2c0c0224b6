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
        // What this program leaves out (pgsql: tables; NSS modules when it is built fully
        // static) it hands to the mdad program next to it, before reading the message.
        HandOff.enable(command: "deliver", arguments: args)
        StaticNSS.prepare()
        exit(MainThreadExecutor().run { await LocalDeliveryAgent.runFromCommandLine(args).rawValue })
    }
}

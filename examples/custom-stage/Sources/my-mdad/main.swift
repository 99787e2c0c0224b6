// An mdad with one more stage. Everything but the registry line is mdad's own.
#if canImport(Glibc)
import Glibc
#endif
import LMTPServer
import Pipeline
import Plugins
import UrgentStage

var registry = StageRegistry.builtin
registry.registerUrgent()          // the one line that adds the stage

let arguments = Array(CommandLine.arguments.dropFirst())
LocalDeliveryAgent.prepareProcess()
switch arguments.first {
case "deliver":
    exit(await LocalDeliveryAgent.runFromCommandLine(Array(arguments.dropFirst()), registry: registry).rawValue)
case "trace":
    var o = TraceCommand.Options()
    var rest = arguments.dropFirst()[...]
    while let a = rest.popFirst() {
        switch a {
        case "-c": o.configDirectory = rest.popFirst()
        case "-f": o.sender = rest.popFirst()
        case "-a": if let r = rest.popFirst() { o.recipients.append(r) }
        case "--json": o.json = true
        default: o.messagePath = a
        }
    }
    exit(await TraceCommand.run(o, registry: registry))
case "postconf":
    var o = PostconfCommand.Options()
    o.names = Array(arguments.dropFirst())
    exit(PostconfCommand.run(o, registry: registry))
default:
    FileHandleOut.write("usage: my-mdad deliver ARGS | trace [-c DIR] [-f SENDER] [-a RCPT] [--json] FILE | postconf [NAME...]\n")
    exit(64)
}

enum FileHandleOut {
    static func write(_ s: String) { try? Posix.writeAll(2, Array(s.utf8)) }
}

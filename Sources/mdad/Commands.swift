#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Pipeline
import Plugins

enum FileHandleStderr {
    static func write(_ text: String) { try? Posix.writeAll(2, Array(text.utf8)) }
}

struct MdadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mdad",
        abstract: "A mail delivery agent and filter chain behind Postfix.",
        discussion: """
            mdad deliver [-c DIR] [-d USER] [-a ADDRESS] [-r ADDRESS] [-f SENDER] [-m MAILBOX] < message
              Deliver one message (Postfix's mailbox_command). See `mdad deliver --help`.
            """)
}

/// `mdad deliver`: parsed by hand (start-up is part of every delivery), exit code chosen here.
enum DeliverCommand {
    /// A usage error is the administrator's mistake, so it defers (75) rather than bounce.
    static func runFromCommandLine(_ args: [String]) async -> SysExit {
        let parsed: DeliverArguments.Parsed
        do {
            parsed = try DeliverArguments.parse(args)
        } catch {
            FileHandleStderr.write("\(EnhancedStatus.configurationError) mdad deliver: \(error.description)\n")
            return .tempFail
        }
        switch parsed {
        case .help:
            try? Posix.writeAll(1, Array(DeliverArguments.usage.utf8))
            return .ok
        case .deliver(let options):
            return await LocalDeliveryAgent().runAndReport(options)
        }
    }
}

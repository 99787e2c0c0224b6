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
        subcommands: [DeliverCommand.self])
}

/// `mdad deliver`, with dovecot-lda's flags, as Postfix's `mailbox_command`.
struct DeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver one message from standard input to one local user's Maildir.",
        discussion: """
            Exit codes follow sysexits.h as Postfix reads them: 0 delivered, 67 unknown user, \
            77 refused by policy, 65 unusable input (too large), 75 temporary failure (try again). \
            On failure the first line of standard error starts with the enhanced status code.
            """)

    @Option(name: .customShort("c"), help: "Configuration directory (default: $MDAD_CONFIG_DIR, else /etc/mdad).")
    var configDirectory: String?

    @Option(name: .customShort("d"), help: "Destination user (default: the user running mdad).")
    var user: String?

    @Option(name: .customShort("a"), help: "Original recipient address.")
    var originalRecipient: String?

    @Option(name: .customShort("r"), help: "Final recipient address (default: the -a address).")
    var finalRecipient: String?

    @Option(name: .customShort("f"), help: "Envelope sender; '' or '<>' for the null sender.")
    var sender: String?

    @Option(name: .customShort("m"), help: "Mailbox for the implicit keep (default INBOX).")
    var mailbox: String?

    @Option(name: .customShort("o"), help: "Override a main.cf parameter: name=value.")
    var overrides: [String] = []

    @Flag(name: .customShort("e"), help: "Report errors through the exit code (always the case).")
    var exitCodes = false

    var options: DeliverOptions {
        var o = DeliverOptions()
        o.configDirectory = configDirectory
        o.destinationUser = user
        o.originalRecipient = originalRecipient
        o.finalRecipient = finalRecipient
        o.sender = sender
        o.mailbox = mailbox
        o.overrides = overrides
        return o
    }

    func run() async throws {
        let code = await LocalDeliveryAgent().runAndReport(options)
        if code != .ok { throw ExitCode(code.rawValue) }
    }

    /// Parses and runs, choosing the exit code itself: a usage error is the administrator's
    /// mistake, so it defers (75) rather than bounce, and help exits 0.
    static func runFromCommandLine(_ args: [String]) async -> SysExit {
        let command: DeliverCommand
        do {
            command = try DeliverCommand.parse(args)
        } catch {
            if DeliverCommand.exitCode(for: error) == .success {
                print(DeliverCommand.fullMessage(for: error))
                return .ok
            }
            FileHandleStderr.write("\(EnhancedStatus.configurationError) mdad deliver: \(DeliverCommand.message(for: error))\n")
            return .tempFail
        }
        return await LocalDeliveryAgent().runAndReport(command.options)
    }
}

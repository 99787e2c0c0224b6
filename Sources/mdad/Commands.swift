#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LMTPServer
import Logging
import Pipeline
import Plugins
import RelayClient
import ServiceLifecycle

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

            These subcommands read their arguments as the Postfix, Dovecot and procmail commands
            they stand for, and have hand-written pages in docs/man (mdad-NAME.8.md): deliver,
            postmap, postalias, newaliases, sendmail, mailq, postqueue, postsuper, spam,
            sieve-test, sievec, procmail, rules. Called as sendmail, mailq, newaliases, postmap,
            postalias or procmail (a link), mdad behaves as that command.
            """,
        subcommands: [ServeSubcommand.self, PostconfSubcommand.self, TraceSubcommand.self])
}

/// `mdad postconf`, with Postfix's flags.
struct PostconfSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postconf",
        abstract: "Show or change main.cf parameters, as Postfix's postconf.",
        discussion: """
            No argument prints every parameter (the core's and every registered stage's, such as \
            filter_timeout or milter_servers); names select. Names main.cf sets that nothing \
            declares are reported as unused, with file and line. -e edits main.cf in place \
            (atomically, comments kept); -X removes the named parameters.

            Exit status: 0 on success; 1 on an error (unknown parameter, unreadable main.cf).
            """)

    @Option(name: .customShort("c"), help: ArgumentHelp("Configuration directory (default: $MDAD_CONFIG_DIR, else /etc/mdad).", valueName: "DIR"))
    var configDirectory: String?

    @Flag(name: .customShort("n"), help: "Show only parameters set in main.cf.")
    var nonDefault = false

    @Flag(name: .customShort("d"), help: "Show default values.")
    var defaults = false

    @Flag(name: .customShort("x"), help: "Expand $name references in values.")
    var expand = false

    @Flag(name: .customShort("e"), help: "Edit main.cf: each argument is 'name = value'.")
    var edit = false

    @Flag(name: .customShort("X"), help: "Remove the named parameters from main.cf.")
    var remove = false

    @Argument(help: ArgumentHelp("Parameter names (or, with -e, 'name = value' settings).", valueName: "NAME"))
    var arguments: [String] = []

    func run() throws {
        var o = PostconfCommand.Options()
        o.configDirectory = configDirectory
        o.mode = defaults ? .defaults : nonDefault ? .nonDefault : .current
        o.expand = expand
        if edit { o.edits = arguments } else if remove { o.removals = arguments } else { o.names = arguments }
        let status = PostconfCommand.run(o)
        if status != 0 { throw ExitCode(status) }
    }
}

/// `mdad serve`: the LMTP daemon.
struct ServeSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the LMTP server on the listeners of lmtp_listen (SIGTERM stops, SIGHUP reloads).",
        discussion: """
            Delivers what Postfix's lmtp(8) client sends, one reply per recipient (RFC 2033); also \
            answers policy_listen, socketmap_listen and Prometheus scrapes at metrics_listen \
            (GET /metrics), and runs the queue manager when mdad is the null client (relayhost).

            SIGTERM, SIGINT: stop accepting, finish transactions in flight (up to \
            lmtp_shutdown_timeout), exit 0. SIGHUP: reload main.cf and tables; a broken \
            configuration is logged and the old one kept.

            Metrics: mdad_deliveries_total{status,backend}, mdad_stage_duration_seconds{stage} \
            (histogram), mdad_lmtp_connections, mdad_lmtp_connections_total, \
            mdad_lmtp_connections_refused_total; with the queue manager, \
            mdad_queue_messages{queue} (incoming, active, deferred, hold, corrupt; sampled once \
            a second) and mdad_queue_attempts_total{outcome} (sent, deferred, bounced: per message) and \
            mdad_queue_recipients_total{outcome} (per recipient).

            Exit status: 0 after a clean stop; 1 when the configuration cannot be read or a \
            listener cannot be bound (the message names the file, line or address).
            """)

    @Option(name: .customShort("c"), help: ArgumentHelp("Configuration directory (default: $MDAD_CONFIG_DIR, else /etc/mdad).", valueName: "DIR"))
    var configDirectory: String?

    func run() async throws {
        let service: LMTPService
        do {
            service = try LMTPService(configDirectory: configDirectory)
        } catch {
            FileHandleStderr.write("mdad serve: fatal: \(error)\n")
            throw ExitCode(1)
        }
        let logger = Logger(label: "mdad.serve")
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        do {
            // The null client: the queue manager sends what the queue holds to the relay.
            if let manager = try QueueManager.configured(configDirectory: configDirectory) {
                services.append(.init(service: manager))
                service.onReload { manager.reload() }
            }
        } catch {
            FileHandleStderr.write("mdad serve: fatal: \(error)\n")
            throw ExitCode(1)
        }
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            FileHandleStderr.write("mdad serve: fatal: \(error)\n")
            throw ExitCode(1)
        }
    }
}

/// `mdad trace`: the configured chain over one message, in dry-run, stage by stage.
struct TraceSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run the configured chain over a message in dry-run and show what each stage changed and why.",
        discussion: """
            Nothing is stored or sent. Prints, stage by stage, what the stage recorded (why:) and \
            what changed (changed:), then each final recipient with its state and actions. \
            External stages (filter programs, milters, spamd) do run. The JSON output (--json) \
            is described in docs/trace.md.

            Exit status: 0 when the trace ran (whatever the recipients' fate); 1 when the \
            configuration or the message cannot be read (the message names the file and line).
            """)

    @Option(name: .customShort("c"), help: ArgumentHelp("Configuration directory (default: $MDAD_CONFIG_DIR, else /etc/mdad).", valueName: "DIR"))
    var configDirectory: String?

    @Option(name: .customShort("f"), help: ArgumentHelp("Envelope sender (default: the message's Return-Path, else <>).", valueName: "SENDER"))
    var sender: String?

    @Option(name: .customShort("a"), parsing: .upToNextOption, help: ArgumentHelp("Envelope recipients (default: $USER@$myhostname).", valueName: "RECIPIENT"))
    var recipients: [String] = []

    @Flag(help: "Print JSON for tools instead of text.")
    var json = false

    @Argument(help: ArgumentHelp("The message file, or - for standard input.", valueName: "MESSAGE"))
    var message: String = "-"

    func run() async throws {
        var o = TraceCommand.Options()
        o.configDirectory = configDirectory
        o.messagePath = message
        o.sender = sender
        o.recipients = recipients
        o.json = json
        let status = await TraceCommand.run(o)
        if status != 0 { throw ExitCode(status) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Logging
import Pipeline
import Plugins

/// `mdad trace MESSAGE [-f SENDER] [-a RECIPIENT…] [--json]`: runs the configured chain over a
/// message in dry-run and tells, stage by stage, what changed and why, then what would happen
/// to each recipient.
///
/// Nothing is stored or sent: stages only ask for actions and the delivery backends, which
/// carry them out, are not run. External stages do run (a filter program, a milter), since
/// what they change is what the trace is about.
public enum TraceCommand {
    public struct Options: Sendable {
        public var configDirectory: String?
        public var messagePath: String = "-"
        public var sender: String?
        public var recipients: [String] = []
        public var json = false
        public init() {}
    }

    /// What one stage did.
    public struct StageReport: Sendable {
        public var name: String
        public var verdict: StageVerdict
        public var seconds: Double
        /// What the stage itself said it did (``TraceEvent``s).
        public var events: [TraceEvent]
        /// What changed in the transaction, found by comparing before and after.
        public var changes: [String]
    }

    public struct RecipientReport: Sendable {
        public var address: String
        public var originalAddress: String?
        /// pending (would be delivered by the actions), rejected, deferred, delivered.
        public var state: String
        public var status: String?
        public var actions: [String]
        /// The mailbox a keep or fileinto would write, when known.
        public var mailbox: String?
    }

    public struct Report: Sendable {
        public var queueID: String
        public var sender: String
        public var stages: [StageReport]
        public var recipients: [RecipientReport]
    }

    /// Runs the trace and prints it; returns the exit status (0, or 1 with a message on stderr).
    public static func run(_ o: Options, registry: StageRegistry = .builtin, system: SystemInfo = .current()) async -> Int32 {
        do {
            let report = try await trace(o, registry: registry, system: system)
            let text = o.json ? TraceFormat.json(report) : TraceFormat.text(report)
            try Posix.writeAll(1, Array(text.utf8))
            return 0
        } catch {
            try? Posix.writeAll(2, Array("mdad trace: \(error)\n".utf8))
            return 1
        }
    }

    public static func trace(_ o: Options, registry: StageRegistry = .builtin, system: SystemInfo = .current()) async throws -> Report {
        let dir = Configuration.directory(commandLine: o.configDirectory)
        let config = try Configuration.load(directory: dir.path, explicit: dir.explicit,
                                            table: registry.parameterTable, system: system)
        try config.validate()
        let limit = try config.size("message_size_limit")
        let bytes: [UInt8]
        if o.messagePath == "-" {
            var writer = SpoolWriter(memoryLimit: 1 << 20, sizeLimit: limit, directory: "/tmp")
            try writer.drain(0)
            bytes = try writer.finish().allBytes()
        } else {
            bytes = try Posix.readFile(o.messagePath, limit: limit > 0 ? limit : 1 << 30)
        }
        let message = try Message.parse(Spool(bytes: bytes),
                                        limits: Message.Limits(fieldSize: try config.size("header_size_limit")))
        let delivery = try LMTPDelivery(configuration: config, registry: registry,
                                        log: Maillog(program: "mdad/trace", hostName: system.hostName, destination: .standardError))
        let myhostname = try config.string("myhostname")
        let addresses = o.recipients.isEmpty ? ["\(Posix.environment("USER") ?? "root")@\(myhostname)"] : o.recipients
        var recipients: [Recipient] = []
        for (i, a) in addresses.enumerated() {
            let address = Envelope.normalize(a)
            var owner: String?
            let (check, route) = delivery.check(address, quota: false)
            if case .mailbox(let t)? = route { owner = t.owner }
            var r = Recipient(address: address, originalAddress: address, user: owner)
            r.envelopeIndex = i
            if case .refuse(let status) = check { r.reject(status) }
            recipients.append(r)
        }
        let sender = o.sender.map(Envelope.normalize) ?? (message.header["Return-Path"].map { Envelope.normalize($0.value) } ?? "")
        var tx = Transaction(envelope: Envelope(sender: sender), recipients: recipients, message: message)
        tx.tracing = true
        var stages: [StageReport] = []
        var before = tx
        let logger = Logger(label: "mdad.trace") { _ in SwiftLogNoOpLogHandler() }
        await delivery.chain.run(&tx, context: StageContext(logger: logger, configuration: config)) { step, verdict, after in
            let events = after.traceEvents.dropFirst(before.traceEvents.count).filter { $0.stage == step.name }
            stages.append(StageReport(name: step.name, verdict: verdict,
                                      seconds: after.stageTimings.last?.seconds ?? 0,
                                      events: Array(events), changes: TraceDiff.changes(from: before, to: after)))
            before = after
        }
        var reports: [RecipientReport] = []
        for r in tx.recipients {
            var mailbox: String?
            if r.isPending, case (.accept, let t?) = delivery.checkMailbox(r.address) { mailbox = t.path }
            reports.append(RecipientReport(address: r.address, originalAddress: r.originalAddress,
                                           state: TraceDiff.stateName(r.state), status: r.state.status.map { "\($0.status) \($0.text)" },
                                           actions: r.isPending ? r.effectiveActions.map(TraceDiff.describe) : [],
                                           mailbox: mailbox))
        }
        return Report(queueID: tx.queueID, sender: tx.envelope.sender, stages: stages, recipients: reports)
    }
}

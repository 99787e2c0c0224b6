import Pipeline
import Plugins

/// The per-connection work that must not run on an event loop: recipient lookups, spooling
/// and delivery (file writes, fsync, rename). Jobs run one at a time, in the order the session
/// asked for them, on a task of their own; results go back to the channel through `reply`.
final class ConnectionWorker: Sendable {
    enum Job: Sendable {
        case check(address: String)
        case begin
        case content([UInt8])
        case abort
        case end(LMTPSession.Envelope, received: Timestamp)
        case finish
    }

    enum Result: Sendable {
        case checked(LMTPSession.RecipientCheck)
        case delivered([DeliveryStatus])
        /// Bytes of content spooled (for flow control).
        case spooled(Int)
    }

    private let continuation: AsyncStream<Job>.Continuation

    /// - Parameters:
    ///   - delivery: returns the engine in force (a reload swaps it between messages).
    ///   - reply: called with each result, from the worker's task.
    init(delivery: @escaping @Sendable () -> LMTPDelivery, reply: @escaping @Sendable (Result) -> Void) {
        let (stream, continuation) = AsyncStream<Job>.makeStream()
        self.continuation = continuation
        Task {
            // Mailboxes found at RCPT time, by address; the envelope at the end names the accepted
            // recipients, so a reset transaction's leftovers can never be misattributed.
            var checked: [String: LMTPDelivery.Route] = [:]
            var writer: SpoolWriter?
            var engine = delivery()
            var start = Timestamp.now()
            var failure: DeliveryStatus?
            for await job in stream {
                switch job {
                case .check(let address):
                    if checked.isEmpty && writer == nil { engine = delivery() }
                    let (verdict, target) = engine.check(address)
                    if let target, verdict == .accept { checked[address] = target }
                    reply(.checked(verdict))
                case .begin:
                    start = Timestamp.now()
                    failure = nil
                    do {
                        let c = engine.configuration
                        var dir = try c.string("spool_directory")
                        if dir.isEmpty { dir = Posix.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp" }
                        writer = SpoolWriter(memoryLimit: try c.size("spool_memory_limit"), sizeLimit: 0, directory: dir)
                    } catch {
                        failure = DeliveryStatus(.configurationError, "configuration error", reason: "\(error)")
                    }
                case .content(let bytes):
                    if failure == nil, writer != nil {
                        do { try writer!.append(bytes) } catch {
                            failure = DeliveryStatus(.temporaryFailure, "cannot spool message", reason: "cannot spool message: \(error)")
                        }
                    }
                    reply(.spooled(bytes.count))
                case .abort:
                    writer = nil
                    checked = [:]
                case .end(let envelope, let received):
                    var statuses: [DeliveryStatus]
                    var routes: [LMTPDelivery.Route] = []
                    for r in envelope.recipients {
                        if let t = checked[r.address] ?? engine.check(r.address).1 { routes.append(t) }
                    }
                    if let failure {
                        statuses = envelope.recipients.map { _ in failure }
                    } else if routes.count != envelope.recipients.count {
                        statuses = envelope.recipients.map { _ in DeliveryStatus(.temporaryFailure, "recipient lookup changed") }
                    } else if let w = writer.take() {
                        let spool = w.finish()
                        statuses = await engine.deliver(envelope, spool: spool, routes: routes, received: received, start: start)
                    } else {
                        statuses = envelope.recipients.map { _ in DeliveryStatus(.temporaryFailure, "no message") }
                    }
                    writer = nil
                    checked = [:]
                    reply(.delivered(statuses))
                case .finish:
                    return
                }
            }
        }
    }

    func submit(_ job: Job) { continuation.yield(job) }

    /// Forget recipients of a reset transaction.
    func reset() { continuation.yield(.abort) }

    func finish() {
        continuation.yield(.finish)
        continuation.finish()
    }
}

extension Optional where Wrapped: ~Copyable {
    /// Moves the value out, leaving nil.
    mutating func take() -> Wrapped? {
        switch consume self {
        case .some(let v):
            self = nil
            return v
        case .none:
            self = nil
            return nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The null client's outbound transport: the message goes into mdad's own queue, and the
/// queue manager of `mdad serve` sends it to the relay. `send` returns once the queue file is
/// fsynced, so a forward is acknowledged only when it is durable.
public struct QueueTransport: OutboundTransport {
    public let store: QueueStore
    /// Called after a message is queued (the in-process queue manager wakes up at once).
    public let notify: @Sendable () -> Void

    public init(store: QueueStore, notify: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.notify = notify
    }

    /// Whether main.cf makes mdad the null client: `default_transport = smtp`, or a relayhost set.
    public static func isConfigured(_ config: Configuration) throws(ConfigError) -> Bool {
        let transport = try config.string("default_transport").trimmingWhitespace()
        switch transport {
        case "smtp", "relay": return true
        case "sendmail": return !(try config.string("relayhost").trimmingWhitespace().isEmpty)
        default:
            throw config.error("default_transport", "default_transport = \(transport): expected smtp or sendmail")
        }
    }

    /// The transport main.cf asks for: this queue as the null client, else `sendmail_path`.
    public static func configured(_ config: Configuration, notify: @escaping @Sendable () -> Void = {}) throws(ConfigError) -> any OutboundTransport {
        if try isConfigured(config) {
            return QueueTransport(store: try QueueStore(configuration: config), notify: notify)
        }
        return try SendmailTransport(configuration: config)
    }

    /// Where this process may write: incoming as root (or the queue's owner), maildrop otherwise.
    public var dropState: QueueStore.State {
        access("\(store.directory)/incoming", W_OK) == 0 ? .incoming : .maildrop
    }

    public func send(sender: String, recipients: [String], prepending: [HeaderField], message: Message) throws(DeliveryStatus) {
        try enqueue(QueueFile(arrival: Int(time(nil)), sender: sender,
                              recipients: recipients.map { .init(address: $0) }, messageSize: 0)) { sink in
            try message.write(prepending: prepending, to: &sink)
        }
    }

    public func send(_ message: OutboundMessage) throws(DeliveryStatus) {
        let data = message.data
        try enqueue(QueueFile(arrival: Int(time(nil)), sender: message.sender,
                              recipients: message.recipients.map { .init(address: $0) }, messageSize: 0)) { sink in
            try sink.write(data)
        }
    }

    /// Queues one message; returns its queue ID.
    @discardableResult
    public func enqueue(_ envelope: QueueFile, writeMessage: (inout FileSink) throws -> Void) throws(DeliveryStatus) -> String {
        guard !envelope.recipients.isEmpty else { return "" }
        do {
            let id = try store.enqueue(envelope, into: dropState, writeMessage: writeMessage)
            notify()
            return id
        } catch let s as DeliveryStatus {
            throw s
        } catch let e as SystemError where e.errno == ENOSPC || e.errno == EDQUOT {
            throw DeliveryStatus(.systemFull, "insufficient system storage", reason: "queue file write error: \(e)")
        } catch {
            throw DeliveryStatus(.temporaryFailure, "queue file write error", reason: "queue file write error: \(error)")
        }
    }
}

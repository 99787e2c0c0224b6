#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The envelope: who the message is from, as the MTA said (not the From: header).
public struct Envelope: Sendable, Equatable {
    /// The envelope sender; empty for the null sender `<>` (bounces, auto-replies).
    public var sender: String

    public init(sender: String) {
        self.sender = Envelope.normalize(sender)
    }

    public var isNullSender: Bool { sender.isEmpty }

    /// `<a@b>` → `a@b`; `<>` → empty (`mdad deliver -f ''` and `-f '<>'` both mean the null sender).
    public static func normalize(_ address: String) -> String {
        var a = address.trimmingWhitespace()
        if a.hasPrefix("<"), a.hasSuffix(">") { a = String(a.dropFirst().dropLast()) }
        return a
    }
}

/// A message on its way through the chain: envelope, recipients each with its own state,
/// and the message over its spool.
public struct Transaction: Sendable {
    /// The ID that ties this message's log lines together (Postfix's queue ID).
    public let queueID: String
    public var envelope: Envelope
    public var recipients: [Recipient]
    public var message: Message
    /// When the message started to arrive.
    public let arrival: Timestamp
    /// How long each stage took, in chain order.
    public var stageTimings: [(stage: String, seconds: Double)] = []
    /// Whether stages record ``TraceEvent``s (`mdad trace` turns it on; delivery leaves it off).
    public var tracing = false
    /// What the stages recorded, in order, when ``tracing`` is on.
    public var traceEvents: [TraceEvent] = []
    /// The stage the chain is running, for the events it records.
    public var currentStage = ""
    /// The LMTP client in Postfix's `name[address]` form (`local` for a UNIX socket); nil for
    /// a message given on standard input. The rewrite stage decides from it whether headers
    /// are rewritten (local_header_rewrite_clients).
    public var client: String?

    public init(queueID: String = QueueID.make(), envelope: Envelope, recipients: [Recipient],
                message: Message, arrival: Timestamp = .now()) {
        self.queueID = queueID
        self.envelope = envelope
        self.recipients = recipients
        self.message = message
        self.arrival = arrival
    }

    /// Recipients still going through the chain.
    public var pendingIndices: [Int] { recipients.indices.filter { recipients[$0].isPending } }

    /// Applies a status to every recipient still pending.
    public mutating func rejectAll(_ status: DeliveryStatus) {
        for i in pendingIndices { recipients[i].reject(status) }
    }

    public mutating func deferAll(_ status: DeliveryStatus) {
        for i in pendingIndices { recipients[i].defer(status) }
    }
}

/// Wall-clock time with microseconds, as Maildir names and log delays need it.
public struct Timestamp: Sendable, Equatable, Comparable {
    public var seconds: Int
    public var microseconds: Int

    public init(seconds: Int, microseconds: Int) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int(ts.tv_sec), microseconds: Int(ts.tv_nsec) / 1000)
    }

    public func seconds(since earlier: Timestamp) -> Double {
        Double(seconds - earlier.seconds) + Double(microseconds - earlier.microseconds) / 1e6
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.microseconds) < (b.seconds, b.microseconds)
    }
}

/// Postfix-style queue IDs: upper-case hexadecimal, unique per host in practice
/// (microseconds, process ID and a counter), so each message's log lines can be grouped.
public enum QueueID {
    private static let counter = Counter()

    public static func make(at time: Timestamp = .now()) -> String {
        let n = counter.next()
        let pid = Int(getpid())
        // 48 bits: seconds (8) | microseconds (20) | process ID (16) | counter (4).
        let value = (UInt64(time.seconds & 0xFF) << 40) | (UInt64(time.microseconds & 0xFFFFF) << 20)
            | (UInt64(pid & 0xFFFF) << 4) | UInt64(n & 0xF)
        // Twelve upper-case hex digits, zero-padded.
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 12)
        var v = value
        for i in stride(from: 11, through: 0, by: -1) {
            let d = UInt8(v & 0xF)
            digits[i] = d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "A") + d - 10
            v >>= 4
        }
        return String(decoding: digits, as: UTF8.self)
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func next() -> Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            value += 1
            return value
        }
    }
}

import Logging
import Pipeline

/// Test a stage in a few lines:
///
///     var tx = try Transaction.literal("Subject: hi\n\nbody\n", from: "a@example.com", to: ["b@example.com"])
///     await tx.run(MyStage())
///     #expect(tx.recipients[0].actions == [.store(folder: "Junk", flags: [])])
extension Message {
    /// A message from a string literal (`\n` line endings unless the literal says otherwise).
    public static func literal(_ text: String) throws -> Message {
        try Message.parse(Spool(bytes: Array(text.utf8)))
    }
}

extension Transaction {
    /// A transaction over a literal message, with an envelope.
    public static func literal(_ text: String, from sender: String = "sender@example.com",
                               to recipients: [String] = ["rcpt@example.com"]) throws -> Transaction {
        Transaction(envelope: Envelope(sender: sender),
                    recipients: recipients.map { Recipient(address: $0, originalAddress: $0) },
                    message: try Message.literal(text))
    }

    /// Runs one stage the way the chain runs it (same error mapping, same timing).
    public mutating func run(_ stage: any Stage, named name: String = "stage under test",
                             configuration: Configuration = Configuration(system: SystemInfo(hostName: "test.example"))) async {
        let chain = Chain([Chain.Step(name: name, stage: stage)])
        await chain.run(&self, context: StageContext.forTesting(configuration: configuration))
    }
}

extension StageContext {
    /// A context whose log lines are collected in `TestLog.lines`.
    public static func forTesting(configuration: Configuration = Configuration(system: SystemInfo(hostName: "test.example")),
                                  log: TestLog = TestLog()) -> StageContext {
        StageContext(logger: Logger(label: "test") { _ in TestLogHandler(log: log) }, configuration: configuration)
    }
}

/// Log lines a stage wrote during a test.
public final class TestLog: @unchecked Sendable {
    private let lock = NSLockLike()
    private var stored: [String] = []
    public init() {}
    public var lines: [String] { lock.withLock { stored } }
    func append(_ line: String) { lock.withLock { stored.append(line) } }
}

struct TestLogHandler: LogHandler {
    let log: TestLog
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { log.append("\(event.level): \(event.message)") }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

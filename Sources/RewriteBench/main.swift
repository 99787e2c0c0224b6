// The rewrite stage alone, for bench/rewrite.sh (not a test).
//
//   RewriteBench CONFIG_DIR MESSAGE_DIR SECONDS
//
// Builds the stage from CONFIG_DIR/main.cf, reads every file in MESSAGE_DIR into memory (the
// envelope sender on the first line, `X-Bench-Sender: addr`), and runs the messages through
// the stage for about SECONDS, each run on a freshly parsed message. Then it times each part
// of the stage's work separately (parse, envelope, header_checks, address headers,
// body_checks) over one pass of the corpus. Output lines are `key value`.
#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import PipelineTestKit
import Plugins

/// Seconds on the wall clock (Pipeline's Timestamp), for timing.
func now() -> Double {
    let t = Timestamp.now()
    return Double(t.seconds) + Double(t.microseconds) / 1e6
}

func fail(_ message: String) -> Never {
    let text = Array("RewriteBench: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

let args = CommandLine.arguments
guard args.count == 4, let seconds = Double(args[3]) else { fail("usage: RewriteBench CONFIG_DIR MESSAGE_DIR SECONDS") }
let configuration: Configuration
do {
    configuration = try Configuration.load(directory: args[1], explicit: true, table: StageRegistry.builtin.parameterTable)
} catch { fail("\(error)") }
let stage: RewriteStage
do { stage = try RewriteStage(configuration: configuration) } catch { fail("\(error)") }

var corpus: [[UInt8]] = []
guard let dir = opendir(args[2]) else { fail("cannot open \(args[2])") }
var names: [String] = []
while let entry = readdir(dir) {
    let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
    if !name.hasPrefix(".") { names.append(name) }
}
closedir(dir)
for name in names.sorted() {
    do { corpus.append(try Posix.readFile(args[2] + "/" + name, limit: 64 << 20)) } catch { fail("\(name): \(error)") }
}
guard !corpus.isEmpty else { fail("no messages in \(args[2])") }

func transaction(_ bytes: [UInt8]) throws -> Transaction {
    let message = try Message.parse(Spool(bytes: bytes))
    let sender = message.header["X-Bench-Sender"]?.value ?? "sender"
    let to = message.header["To"].map { AddressList.parse($0).mailboxes.map(\.address) } ?? ["rcpt"]
    return Transaction(envelope: Envelope(sender: sender), recipients: to.prefix(3).map { Recipient(address: $0) },
                       message: message)
}

let context = StageContext.forTesting(configuration: configuration)
var count = 0
var changedFields = 0
let bytes = corpus.reduce(0) { $0 + $1.count }
let start = now()
while now() - start < seconds {
    for m in corpus {
        do {
            var tx = try transaction(m)
            let before = tx.message.header.fields
            _ = try await stage.process(&tx, context: context)
            if count < corpus.count { changedFields += zip(before, tx.message.header.fields).filter { $0.raw != $1.raw }.count }
        } catch { fail("\(error)") }
        count += 1
    }
}
let elapsed = now() - start
print("messages \(count)")
print("seconds \(elapsed)")
print("messages_per_second \(Double(count) / elapsed)")
print("corpus_messages \(corpus.count)")
print("corpus_bytes \(bytes)")
print("fields_changed_per_corpus_pass \(changedFields)")

// Where the time goes: each part on its own, over several passes of the corpus.
var parts: [String: Double] = [:]
func measure(_ body: () throws -> Void) rethrows -> Double {
    let t = now()
    try body()
    return now() - t
}
let passes = max(1, min(50, Int(2000 / corpus.count)))
do {
    for _ in 0..<passes {
        for m in corpus {
            var tx = try transaction(m)
            parts["parse", default: 0] += try measure { _ = try Message.parse(Spool(bytes: m)) }
            parts["envelope", default: 0] += try measure {
                tx.envelope.sender = try stage.rewriteEnvelope(tx.envelope.sender, as: .envelopeSender)
                for i in tx.recipients.indices {
                    tx.recipients[i].address = try stage.rewriteEnvelope(tx.recipients[i].address, as: .envelopeRecipient)
                }
            }
            parts["header_checks", default: 0] += try measure { for f in tx.message.header.fields { _ = try stage.checks.checkPrimary(f) } }
            parts["address_headers", default: 0] += try measure { for f in tx.message.header.fields { _ = try stage.rewriteHeader(f, context: .local) } }
            parts["body_checks", default: 0] += try measure { try stage.checks.checkBody(tx.message) { _ in true } }
        }
    }
} catch { fail("\(error)") }
let total = parts.values.reduce(0, +)
for (name, t) in parts.sorted(by: { $0.value > $1.value }) {
    print("part \(name) \(t / Double(passes * corpus.count) * 1e6) \(t / total * 100)")
}

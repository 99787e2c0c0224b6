import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("rewrite stage")
struct RewriteStageTests {
    static func configuration(_ extra: String) throws -> Configuration {
        try Configuration(mainCF: "myhostname = mx.example.com\nmyorigin = example.com\npipeline = rewrite\n" + extra,
                          file: "main.cf", table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "x"))
    }

    static func run(_ message: String, _ extra: String = "", from: String = "alice", to: [String] = ["bob"],
                    client: String? = nil, log: TestLog = TestLog()) async throws -> Transaction {
        let config = try configuration(extra)
        let chain = try StageRegistry.builtin.makeChain(config)
        var tx = try Transaction.literal(message, from: from, to: to)
        tx.client = client
        await chain.run(&tx, context: .forTesting(configuration: config, log: log))
        return tx
    }

    static func header(_ tx: Transaction) -> String { String(decoding: tx.message.header.bytes, as: UTF8.self) }

    @Test func registeredAndQualifiesEnvelopeAndHeaders() async throws {
        let tx = try await Self.run("From: Alice <alice>\nTo:  x@example.org,\n  y@example.org\nSubject: s\n\nbody\n")
        #expect(tx.envelope.sender == "alice@example.com")
        #expect(tx.recipients[0].address == "bob@example.com")
        #expect(Self.header(tx) == "From: Alice <alice@example.com>\nTo:  x@example.org,\n  y@example.org\nSubject: s\n")
    }

    @Test func aCRLFMessageStaysCRLF() async throws {
        let tx = try await Self.run("From: alice\r\nTo: a, b\r\nSubject: s\r\n\r\nbody\r\n")
        #expect(Self.header(tx) == "From: alice@example.com\r\nTo: a@example.com, b@example.com\r\nSubject: s\r\n")
        let checked = try await Self.run("From: a@example.com\r\nX-Old: v\r\n\r\nbody\r\n",
                                         "header_checks = pcre:{ {/^X-Old: (.*)/ REPLACE X-New: $$1}, {/^From:/ PREPEND X-Top: 1} }\n")
        #expect(Self.header(checked) == "X-Top: 1\r\nFrom: a@example.com\r\nX-New: v\r\n")
    }

    @Test func remoteClientHeadersAreLeftAloneButTheEnvelopeIsNot() async throws {
        let tx = try await Self.run("From: alice\n\nbody\n", client: "unknown[192.0.2.1]")
        #expect(Self.header(tx) == "From: alice\n")
        #expect(tx.envelope.sender == "alice@example.com")
    }

    @Test func mapResultsCannotInjectHeaders() async throws {
        struct Evil: LookupTable {
            let name = "evil:test"
            func lookup(_ key: String) throws(TableError) -> String? { key.hasPrefix("alice") ? "x@y\nBcc: victim@example.com" : nil }
        }
        let stage = RewriteStage(qualifier: AddressQualifier(origin: "example.com", domain: "example.com"),
                                 canonical: CanonicalMaps(tables: TableList([Evil()])))
        var tx = try Transaction.literal("From: alice\n\nbody\n")
        await tx.run(stage)
        #expect(Self.header(tx) == "From: alice@example.com\n")
        #expect(!Self.header(tx).contains("Bcc"))
    }

    @Test func headerThatIsNotAddressesIsLeftAndLogged() async throws {
        let log = TestLog()
        let tx = try await Self.run("From: alice\nReply-To: @@@\nTo: ,,,\n\nbody\n", log: log)
        #expect(Self.header(tx) == "From: alice@example.com\nReply-To: @@@\nTo: ,,,\n")
        #expect(log.lines.filter { $0.contains("not parsed as addresses") }.count == 2, "\(log.lines)")
    }

    @Test func tableFailureDefersWith430() async throws {
        struct Down: LookupTable {
            let name = "down:test"
            func lookup(_ key: String) throws(TableError) -> String? { throw TableError(table: name, "connection refused") }
        }
        let stage = RewriteStage(qualifier: AddressQualifier(origin: "example.com", domain: "example.com"),
                                 canonical: CanonicalMaps(tables: TableList([Down()])))
        var tx = try Transaction.literal("From: alice\n\nbody\n")
        await tx.run(stage)
        #expect(tx.recipients[0].state.status?.status == .temporaryFailure)
    }

    @Test func headerChecksModifyRejectAndDiscard() async throws {
        let checks = "header_checks = pcre:{ {/^X-Drop:/ IGNORE}, {/^X-Old: (.*)/ REPLACE X-New: $$1}, {/^X-Pre:/ PREPEND X-Added: 1}, {/^Subject: spam/ REJECT go away}, {/^Subject: bin/ DISCARD} }\n"
        let tx = try await Self.run("From: a@example.com\nX-Drop: 1\nX-Old: v\nX-Pre: p\nSubject: ok\n\nbody\n", checks)
        #expect(Self.header(tx) == "From: a@example.com\nX-New: v\nX-Added: 1\nX-Pre: p\nSubject: ok\n")
        let rejected = try await Self.run("From: a@example.com\nSubject: spam\n\nbody\n", checks)
        #expect(rejected.recipients[0].state == .rejected(DeliveryStatus(.policyRejection, "go away")))
        let discarded = try await Self.run("From: a@example.com\nSubject: bin\n\nbody\n", checks)
        #expect(discarded.recipients[0].actions == [.discard])
    }

    @Test func actionTextWithALineBreakIsNoHeader() {
        #expect(RewriteStage.header("X-New: a\r\nBcc: b") == nil)
        #expect(RewriteStage.header("X-New: a\nBcc: b") == nil)
        #expect(RewriteStage.header("no colon here") == nil)
        #expect(RewriteStage.header("X-New:  a b")?.raw == Array("X-New: a b\n".utf8))
    }

    @Test func bodyLinesCanBeReplacedIgnoredAndPrepended() async throws {
        let checks = "body_checks = pcre:{ {/^old$/ REPLACE new}, {/^drop$/ IGNORE}, {/^here$/ PREPEND before} }\n"
        let tx = try await Self.run("From: a@example.com\nSubject: s\n\nkeep\nold\ndrop\nhere\nend\n", checks)
        var sink = CollectedBytes()
        try tx.message.write(to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "From: a@example.com\nSubject: s\n\nkeep\nnew\nbefore\nhere\nend\n")
    }

    @Test func bodyChecksSeeEachLine() async throws {
        let checks = "body_checks = pcre:{ {/^bad line$/ REJECT body refused} }\n"
        let tx = try await Self.run("From: a@example.com\n\ngood\nbad line\n", checks)
        #expect(tx.recipients[0].state == .rejected(DeliveryStatus(.policyRejection, "body refused")))
        let ok = try await Self.run("From: a@example.com\n\ngood\nnot a bad line\n", checks)
        #expect(ok.recipients[0].isPending)
    }
}

/// Collects written bytes.
struct CollectedBytes: ByteSink {
    var bytes: [UInt8] = []
    mutating func write(_ chunk: UnsafeRawBufferPointer) throws { bytes += chunk }
}

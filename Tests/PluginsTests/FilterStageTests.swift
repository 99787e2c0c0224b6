import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The filter stage against real programs (/bin/sh, sed, cat, sleep): the exit-code contract,
/// the timeout, the size limits and the failure policies.
@Suite("filter stage")
struct FilterStageTests {
    static let message = "From: a@example.com\nSubject: hello\n\nline one\nline two\n"

    func sh(_ script: String, timeout: Double = 20, sizeLimit: Int = 10_240_000, discard: Int32 = 0,
            policy: FilterStage.FailurePolicy = .tempfail) throws -> FilterStage {
        try FilterStage(argv: ["/bin/sh", "-c", script], timeout: timeout, sizeLimit: sizeLimit,
                        discardCode: discard, failurePolicy: policy)
    }

    func body(_ tx: Transaction) throws -> String {
        var sink = BufferSink()
        try tx.message.write(to: &sink)
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    @Test func exitZeroContinuesWithTheProgramsMessage() async throws {
        var tx = try Transaction.literal(Self.message)
        tx.tracing = true
        await tx.run(try sh("sed -e '1i X-Filtered: yes' -e 's/line one/LINE ONE/'"), named: "filter")
        #expect(tx.recipients[0].isPending)
        #expect(tx.message.header["X-Filtered"]?.value == "yes")
        #expect(try body(tx) == "X-Filtered: yes\nFrom: a@example.com\nSubject: hello\n\nLINE ONE\nline two\n")
        #expect(tx.traceEvents.contains { $0.stage == "filter" && $0.kind == .header && $0.text.contains("X-Filtered") })
    }

    @Test func environmentCarriesTheEnvelopeAndNothingElse() async throws {
        var tx = try Transaction.literal(Self.message, from: "s@example.com", to: ["r1@x.example", "r2@x.example"])
        await tx.run(try sh("echo \"X-Env: $SENDER|$RECIPIENT|${HOME:-nohome}\"; cat"))
        #expect(tx.message.header["X-Env"]?.value == "s@example.com|r1@x.example r2@x.example|nohome")
    }

    @Test func exit75Defers() async throws {
        var tx = try Transaction.literal(Self.message)
        await tx.run(try sh("cat >/dev/null; echo 'try later please' >&2; exit 75"))
        guard case .deferred(let s) = tx.recipients[0].state else { Issue.record("not deferred: \(tx.recipients[0].state)"); return }
        #expect(s.status.isTemporary)
        #expect(s.text == "try later please")
    }

    @Test(arguments: [67, 69, 77])
    func rejectCodesRejectWithTheProgramsText(code: Int) async throws {
        var tx = try Transaction.literal(Self.message, to: ["a@x.example", "b@x.example"])
        await tx.run(try sh("cat >/dev/null; echo 'virus found: Eicar' >&2; exit \(code)"))
        for r in tx.recipients {
            guard case .rejected(let s) = r.state else { Issue.record("not rejected: \(r.state)"); continue }
            #expect(s.status == .policyRejection)
            #expect(s.text == "virus found: Eicar")
        }
    }

    @Test func discardCodeDropsForEveryRecipient() async throws {
        var tx = try Transaction.literal(Self.message, to: ["a@x.example", "b@x.example"])
        await tx.run(try sh("cat >/dev/null; exit 99", discard: 99))
        #expect(tx.recipients.allSatisfy { $0.actions == [.discard] && $0.isPending })
        // Without a discard code, 99 is a failure: tempfail by default.
        var tx2 = try Transaction.literal(Self.message)
        await tx2.run(try sh("cat >/dev/null; exit 99"))
        #expect(tx2.recipients[0].state.status?.status == .temporaryFailure)
    }

    @Test func crashTempfailsOrFailsOpen() async throws {
        var tx = try Transaction.literal(Self.message)
        await tx.run(try sh("kill -SEGV $$"))
        #expect(tx.recipients[0].state.status?.status == .temporaryFailure)
        var open = try Transaction.literal(Self.message)
        await open.run(try sh("kill -SEGV $$", policy: .continue))
        #expect(open.recipients[0].isPending)
        #expect(try body(open) == Self.message)
    }

    @Test func timeoutKillsTheProgramAndItsChildren() async throws {
        let start = Subprocess.monotonicSeconds()
        var tx = try Transaction.literal(Self.message)
        await tx.run(try sh("sleep 30 & sleep 30; cat", timeout: 1))
        let elapsed = Subprocess.monotonicSeconds() - start
        #expect(tx.recipients[0].state.status?.status == .temporaryFailure)
        #expect(elapsed < 10, "took \(elapsed)s")
    }

    @Test func emptyOrOversizedOutputIsAFailure() async throws {
        var empty = try Transaction.literal(Self.message)
        await empty.run(try sh("cat >/dev/null", policy: .continue))
        #expect(empty.recipients[0].isPending)
        #expect(try body(empty) == Self.message)

        var big = try Transaction.literal(Self.message)
        await big.run(try sh("cat; head -c 5000 /dev/zero | tr '\\0' x", sizeLimit: 1000))
        #expect(big.recipients[0].state.status?.status == .temporaryFailure)
    }

    @Test func messagesOverTheLimitAreNotFiltered() async throws {
        var tx = try Transaction.literal(Self.message)
        await tx.run(try sh("exit 77", sizeLimit: 10))
        #expect(tx.recipients[0].isPending)
        #expect(try body(tx) == Self.message)
    }

    @Test func commandWordsNeverUseAShell() throws {
        #expect(try CommandWords.split(#"/bin/sh -c "tr a-z A-Z | cat""#) == ["/bin/sh", "-c", "tr a-z A-Z | cat"])
        #expect(try CommandWords.split(#"/usr/bin/x 'a b' c\ d "e\"f" $HOME"#) == ["/usr/bin/x", "a b", "c d", "e\"f", "$HOME"])
        #expect(throws: CommandWords.SplitError.self) { try CommandWords.split("/bin/x 'open") }
    }

    @Test func configurationErrorsNameTheParameter() throws {
        var config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("pipeline", "filter")
        #expect(throws: ConfigError.self) { try StageRegistry.builtin.makeChain(config) }   // empty command
        config.set("filter_command", "/no/such/program")
        config.set("filter_failure_policy", "maybe")
        #expect(throws: ConfigError.self) { try StageRegistry.builtin.makeChain(config) }
        config.set("filter_command", "sed -e s/a/b/")
        config.set("filter_failure_policy", "continue")
        let chain = try StageRegistry.builtin.makeChain(config)
        let stage = try #require(chain.steps.first?.stage as? FilterStage)
        #expect(stage.argv == ["/usr/bin/sed", "-e", "s/a/b/"] || stage.argv == ["/bin/sed", "-e", "s/a/b/"])
        #expect(stage.failurePolicy == .continue)
    }
}

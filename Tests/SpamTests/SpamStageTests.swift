import Foundation
import Pipeline
import PipelineTestKit
import Testing
@testable import Spam

let stageRules = """
    clear_headers
    add_header all Checker-Version SpamAssassin _VERSION_ (_SUBVERSION_) on _HOSTNAME_
    add_header spam Flag _YESNOCAPS_
    add_header all Level _STARS(*)_
    add_header all Status "_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ autolearn=_AUTOLEARN_ version=_VERSION_"
    required_score 5.0
    body MDAD_CHEAP_PILLS /cheap pills/i
    describe MDAD_CHEAP_PILLS Talks about cheap pills
    score MDAD_CHEAP_PILLS 2.5
    body MDAD_VIAGRA /\\bviagra\\b/i
    score MDAD_VIAGRA 3.1
    header MDAD_SUBJ_OFFER Subject =~ /offer/i
    score MDAD_SUBJ_OFFER 0.7
    body MDAD_A_VERY_LONG_RULE_NAME_ONE /one/
    body MDAD_A_VERY_LONG_RULE_NAME_TWO /two/
    body MDAD_A_VERY_LONG_RULE_NAME_THREE /three/
    body MDAD_A_VERY_LONG_RULE_NAME_FOUR /four/
    body MDAD_FRIENDLY /regards/i
    score MDAD_FRIENDLY -1.5
    body __MDAD_SUB /pills/
    meta MDAD_META __MDAD_SUB && MDAD_VIAGRA
    score MDAD_META 0.01
    """

@Suite("The spam stage")
struct SpamStageTests {
    let rules = RuleSet.parse(stageRules)
    static let spam = "From: a@example.com\nTo: b@example.com\nSubject: Special offer\nX-Spam-Flag: YES\nX-Spam-Status: forged\n\nCheap pills and Viagra! one two three four\n"
    static let ham = "From: a@example.com\nTo: b@example.com\nSubject: lunch\n\nSee you at noon. Regards\n"

    @Test func tagsSpamWithSpamAssassinsHeaders() async throws {
        var tx = try Transaction.literal(Self.spam, to: ["u1@example.com"])
        await tx.run(SpamStage(rules: rules, hostName: "mx.example.com"))
        let h = tx.message.header
        #expect(h.all("X-Spam-Flag").map(\.value) == ["YES"])
        #expect(h["X-Spam-Score"]?.value == "10.3")
        #expect(h["X-Spam-Level"]?.value == String(repeating: "*", count: 10))
        let status = String(decoding: h["X-Spam-Status"]!.rawValue, as: UTF8.self)
        #expect(status == """
             Yes, score=10.3 required=5.0
            \ttests=MDAD_A_VERY_LONG_RULE_NAME_FOUR,MDAD_A_VERY_LONG_RULE_NAME_ONE,
            \tMDAD_A_VERY_LONG_RULE_NAME_THREE,MDAD_A_VERY_LONG_RULE_NAME_TWO,
            \tMDAD_CHEAP_PILLS,MDAD_META,MDAD_SUBJ_OFFER,MDAD_VIAGRA
            \tautolearn=disabled version=4.0.1

            """)
        #expect(h.all("X-Spam-Status").count == 1, "the sender's own X-Spam-Status must be gone")
        #expect(tx.recipients[0].actions.isEmpty)
    }

    @Test func hamGetsNoFlag() async throws {
        var tx = try Transaction.literal(Self.ham)
        await tx.run(SpamStage(rules: rules, folder: "Junk"))
        #expect(tx.message.header["X-Spam-Flag"] == nil)
        #expect(String(decoding: tx.message.header["X-Spam-Status"]!.rawValue, as: UTF8.self) == " No, score=-1.5 required=5.0 tests=MDAD_FRIENDLY\n\tautolearn=disabled version=4.0.1\n")
        #expect(tx.message.header["X-Spam-Level"]?.value == "")
        #expect(tx.recipients[0].actions.isEmpty)
    }

    @Test func filesSpamIntoJunkPerRecipient() async throws {
        var tx = try Transaction.literal(Self.spam, to: ["u1@example.com", "u2@example.com"])
        await tx.run(SpamStage(rules: rules, folder: "Junk"))
        #expect(tx.recipients.map(\.actions) == [[.store(folder: "Junk", flags: [])], [.store(folder: "Junk", flags: [])]])
        #expect(tx.recipients.allSatisfy { $0.isPending })
    }

    @Test func rejectsAtTheRejectScoreWith550_571() async throws {
        var tx = try Transaction.literal(Self.spam, to: ["u1@example.com"])
        await tx.run(SpamStage(rules: rules, folder: "Junk", rejectScore: 10))
        guard case .rejected(let status) = tx.recipients[0].state else {
            Issue.record("not rejected: \(tx.recipients[0].state)")
            return
        }
        #expect(status.status == .policyRejection)
        #expect(status.text.contains("spam"))
        var low = try Transaction.literal(Self.spam, to: ["u1@example.com"])
        await low.run(SpamStage(rules: rules, folder: "Junk", rejectScore: 20))
        #expect(low.recipients[0].isPending)
    }

    @Test func pathologicalRegexIsLoggedAndTheMessageStillPasses() async throws {
        let slow = RuleSet.parse("body CATASTROPHIC /^(a+)+$/\nbody OK_RULE /aaa/\n", limits: PCRERegex.Limits(matchLimit: 5_000, depthLimit: 500))
        var tx = try Transaction.literal("Subject: x\n\n" + String(repeating: "a", count: 35) + "!\n")
        let log = TestLog()
        let chain = Chain([Chain.Step(name: "spam", stage: SpamStage(rules: slow))])
        await chain.run(&tx, context: StageContext.forTesting(log: log))
        #expect(tx.recipients[0].isPending)
        #expect(log.lines.contains { $0.contains("rule CATASTROPHIC stopped") }, "\(log.lines)")
        #expect(tx.message.header["X-Spam-Status"]?.value.contains("tests=OK_RULE") == true)
    }

    @Test func configurationReadsRulePathsAndChecksNumbers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-spam-conf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try stageRules.write(to: dir.appendingPathComponent("local.cf"), atomically: true, encoding: .utf8)
        var table = ParameterTable()
        for p in SpamStage.parameters { table.add(p) }
        var c = Configuration(table: table)
        c.set("spam_rules", dir.path + ", /nonexistent/rules")
        c.set("spam_folder", "Junk")
        let stage = try SpamStage(configuration: c)
        #expect(stage.rules.ruleCount == 10)
        c.set("spam_reject_score", "lots")
        #expect(throws: ConfigError.self) { try SpamStage(configuration: c) }
        c.set("spam_reject_score", "")
        c.set("spam_rules", "/nonexistent/rules")
        #expect(throws: ConfigError.self) { try SpamStage(configuration: c) }
    }

    @Test func jsonLine() throws {
        let r = try rules.check(Message.literal(Self.spam))
        #expect(SpamCommand.jsonLine(file: "m\"1.eml", r) == """
            {"file":"m\\"1.eml","score":10.31,"required_score":5.0,"is_spam":true,"rules":["MDAD_A_VERY_LONG_RULE_NAME_FOUR","MDAD_A_VERY_LONG_RULE_NAME_ONE","MDAD_A_VERY_LONG_RULE_NAME_THREE","MDAD_A_VERY_LONG_RULE_NAME_TWO","MDAD_CHEAP_PILLS","MDAD_META","MDAD_SUBJ_OFFER","MDAD_VIAGRA"],"rule_scores":{"MDAD_A_VERY_LONG_RULE_NAME_FOUR":1.0,"MDAD_A_VERY_LONG_RULE_NAME_ONE":1.0,"MDAD_A_VERY_LONG_RULE_NAME_THREE":1.0,"MDAD_A_VERY_LONG_RULE_NAME_TWO":1.0,"MDAD_CHEAP_PILLS":2.5,"MDAD_META":0.01,"MDAD_SUBJ_OFFER":0.7,"MDAD_VIAGRA":3.1}}
            """)
    }

    /// The X-Spam-* fields as Debian's spamassassin writes them for the same rules.
    @Test func headersMatchSpamAssassinsExactly() throws {
        try #require(SpamAssassinHarness.installed, "spamassassin is not installed (scripts/deps TEST_PACKAGES)")
        let sa = try SpamAssassinHarness(rules: stageRules)
        defer { sa.remove() }
        let messages = [Self.spam, Self.ham, "Subject: nothing\n\nplain\n"].enumerated().map { Array("X-Corpus-Id: \($0.offset)\n\($0.element)".utf8) }
        let judged = try sa.headers(messages)
        let rules = RuleSet.load(paths: sa.rulePaths)
        for (n, bytes) in messages.enumerated() {
            var tx = Transaction(envelope: Envelope(sender: ""), recipients: [Recipient(address: "u@example.com")], message: try Message.parse(Spool(bytes: bytes)))
            SpamStage(rules: rules).apply(try rules.check(tx.message), to: &tx)
            let mine = tx.message.header.fields.filter { $0.name.hasPrefix("X-Spam-") && !["X-Spam-Checker-Version", "X-Spam-Score"].contains($0.name) }
                .map { "\($0.name):\(String(decoding: $0.rawValue, as: UTF8.self).dropFirst().dropLast())" }
            let theirs = judged[n].filter { $0.name.hasPrefix("X-Spam-") && !["X-Spam-Checker-Version", "X-Spam-Report"].contains($0.name) }
                .map { "\($0.name):\($0.value)" }
            #expect(mine == theirs, "message \(n)")
        }
    }
}

import Foundation
import Pipeline
import PipelineTestKit
import Testing
@testable import Spam

/// What the spam stages tell `mdad trace`: score, required score and every hit with its score.
@Suite("Spam trace events", .serialized)
struct SpamTraceTests {
    @Test func spamStageRecordsTheScoreAndEachHitWithItsRule() async throws {
        let rules = RuleSet.parse(stageRules, name: "local.cf")
        var tx = try Transaction.literal(SpamStageTests.spam)
        tx.tracing = true
        await tx.run(SpamStage(rules: rules))
        let texts = tx.traceEvents.map(\.text)
        #expect(texts.first == "score 10.3, required 5.0: spam", "\(texts)")
        #expect(texts.contains("hit MDAD_VIAGRA (3.1)"))
        #expect(texts.contains("hit MDAD_CHEAP_PILLS (2.5)"))
        #expect(!texts.contains { $0.contains("__MDAD_SUB") }, "sub-rules score nothing and are not listed")
        let viagra = try #require(tx.traceEvents.first { $0.text == "hit MDAD_VIAGRA (3.1)" })
        // The rule is defined on line 10 of the rules text.
        #expect(viagra.file == "local.cf" && viagra.line == 10 && viagra.kind == .match)

        var untraced = try Transaction.literal(SpamStageTests.spam)
        await untraced.run(SpamStage(rules: rules))
        #expect(untraced.traceEvents.isEmpty)
    }

    @Test func spamdStageRecordsTheHitsOfSpamdsReport() async throws {
        try #require(SpamdHarness.installed, "spamd is not installed (scripts/deps TEST_PACKAGES)")
        let spamd = try SpamdHarness(rules: stageRules + "\nreport _SUMMARY_\n")
        defer { spamd.stop() }
        var tx = try Transaction.literal(SpamStageTests.spam)
        tx.tracing = true
        await tx.run(SpamdStage(address: "127.0.0.1:\(spamd.port)", timeout: 30))
        let texts = tx.traceEvents.map(\.text)
        #expect(texts.first == "score 10.3, required 5.0: spam", "\(texts)")
        #expect(texts.contains("hit MDAD_VIAGRA (3.1)"), "\(texts)")
        #expect(texts.contains("hit MDAD_SUBJ_OFFER (0.7)"), "\(texts)")
        #expect(texts.contains("hit MDAD_FRIENDLY (-1.5)") == false)
        // spamd's hits are the spam stage's hits for the same rules.
        let local = try RuleSet.parse(stageRules).check(Message.literal(SpamStageTests.spam))
        #expect(Set(texts.dropFirst()) == Set(local.scoredRules.map { "hit \($0.name) (\(RuleSet.format1($0.score)))" }), "\(texts)")
    }
}

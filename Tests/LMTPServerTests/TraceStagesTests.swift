import Foundation
import Testing
@testable import LMTPServer
@testable import Pipeline

/// `mdad trace` over real configurations of the rewrite, spam and rules (Sieve, procmail)
/// stages: the events each stage records, in text and JSON.
@Suite("mdad trace: rewrite, spam, Sieve and procmail events")
struct TraceStagesTests {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-trace-stages-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try write("msg", "From: Alice <a@example.com>\nTo: root@mx.example.com\nSubject: Special offer\n\nCheap pills! Regards\n")
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
    }

    func trace(_ mainCF: String, to recipients: [String] = ["root@mx.example.com"]) async throws -> TraceCommand.Report {
        try write("main.cf", "myhostname = mx.example.com\nmydomain = example.com\n" + mainCF)
        var o = TraceCommand.Options()
        o.configDirectory = dir
        o.messagePath = "\(dir)/msg"
        o.sender = "<a@example.com>"
        o.recipients = recipients
        return try await TraceCommand.trace(o)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    @Test func rewriteNamesTheMapAndKeyForEachAddress() async throws {
        defer { cleanup() }
        try write("canonical", "a@example.com alice@example.org\nnobody@mx.example.com root@mx.example.com\n")
        try write("header_checks", "/^Subject: .*offer/ PREPEND X-Offer: yes\n")
        let report = try await trace("""
            pipeline = rewrite
            canonical_maps = texthash:\(dir)/canonical
            header_checks = pcre:\(dir)/header_checks
            """, to: ["nobody@mx.example.com"])
        let events = try #require(report.stages.first { $0.name == "rewrite" }).events
        let texts = events.map(\.text)
        #expect(texts.contains("envelope sender: <a@example.com> → <alice@example.org> (canonical_maps texthash:\(dir)/canonical key a@example.com)"), "\(texts)")
        #expect(texts.contains("envelope recipient: <nobody@mx.example.com> → <root@mx.example.com> (canonical_maps texthash:\(dir)/canonical key nobody@mx.example.com)"), "\(texts)")
        #expect(texts.contains("header From: <a@example.com> → <alice@example.org> (canonical_maps texthash:\(dir)/canonical key a@example.com)"), "\(texts)")
        #expect(texts.contains("content checks matched header Subject: Special offer: PREPEND X-Offer: yes"), "\(texts)")
        #expect(events.first { $0.text.hasPrefix("envelope sender") }?.kind == .sender)
        #expect(events.first { $0.text.hasPrefix("envelope recipient") }?.recipient == "nobody@mx.example.com")
        #expect(report.sender == "alice@example.org")
        #expect(report.recipients.map(\.address) == ["root@mx.example.com"])
    }

    @Test func spamShowsTheScoreAndEachHitAtItsRule() async throws {
        defer { cleanup() }
        try write("rules/local.cf", """
            required_score 3.0
            body MDAD_PILLS /cheap pills/i
            score MDAD_PILLS 2.5
            header MDAD_OFFER Subject =~ /offer/i
            score MDAD_OFFER 1.0
            body MDAD_NICE /regards/i
            score MDAD_NICE -0.5

            """)
        let report = try await trace("pipeline = spam\nspam_rules = \(dir)/rules\nspam_folder = Junk\n")
        let events = try #require(report.stages.first { $0.name == "spam" }).events
        #expect(events.map(\.text) == ["score 3.0, required 3.0: spam", "hit MDAD_NICE (-0.5)", "hit MDAD_OFFER (1.0)", "hit MDAD_PILLS (2.5)"],
                "\(events.map(\.text))")
        let offer = try #require(events.first { $0.text == "hit MDAD_OFFER (1.0)" })
        #expect(offer.file == "\(dir)/rules/local.cf" && offer.line == 4)
        #expect(report.recipients.first?.actions == ["store Junk"])
        // The JSON carries the same events with file and line.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(TraceFormat.json(report).utf8)) as? [String: Any])
        let stage = try #require((json["stages"] as? [[String: Any]])?.first)
        let hits = try #require(stage["events"] as? [[String: Any]]).filter { ($0["text"] as? String)?.hasPrefix("hit ") == true }
        #expect(hits.map { $0["line"] as? Int } == [6, 4, 2])
    }

    @Test func sieveShowsTheTestThatMatchedAndEachAction() async throws {
        defer { cleanup() }
        try write("user.sieve", """
            require ["fileinto", "imap4flags"];
            if header :contains "subject" "lunch" {
                discard;
            } elsif allof (exists "from", header :contains "subject" "offer") {
                addflag "\\\\Seen";
                fileinto "Offers";
            }
            keep;

            """)
        let report = try await trace("pipeline = rules\nrules_engines = sieve\nsieve = \(dir)/user.sieve\n")
        let events = try #require(report.stages.first { $0.name == "rules" }).events
        let sieve = events.filter { $0.file == "\(dir)/user.sieve" }
        #expect(sieve.map(\.text) == ["elsif test allof(exists \"from\", header \"subject\") matched", "fileinto \"Offers\"", "keep"],
                "\(events.map { "\($0.file ?? "-"):\($0.line ?? 0) \($0.text)" })")
        #expect(sieve.map(\.line) == [4, 6, 8])
        #expect(sieve.allSatisfy { $0.recipient == "root@mx.example.com" })
        #expect(report.recipients.first?.actions == ["store Offers \\seen", "store INBOX \\seen"])
        #expect(TraceFormat.text(report).contains("elsif test allof"))
    }

    @Test func aSieveScriptThatDoesNotCompileShowsEveryError() async throws {
        defer { cleanup() }
        try write("user.sieve", "require \"fileinto\";\nfrob;\nfileinto 1;\n")
        let report = try await trace("pipeline = rules\nrules_engines = sieve\nsieve = \(dir)/user.sieve\n")
        let events = try #require(report.stages.first { $0.name == "rules" }).events.filter { $0.file == "\(dir)/user.sieve" }
        #expect(events.map(\.line) == [2, 3], "\(events.map(\.text))")
        #expect(events.first?.text == "script skipped: user: line 2, column 1: error: unknown command 'frob' (only reported once at first occurrence).")
        #expect(report.recipients.first?.actions == ["store INBOX"])
    }

    @Test func procmailShowsTheRecipeThatMatchedWithItsConditionsAndWeights() async throws {
        defer { cleanup() }
        try write("procmailrc", """
            :0
            * ^Subject:.*lunch
            Lunch/

            :0
            * 900^0 ^Subject:.*offer
            * -500^0 ^From:.*example\\.com
            Offers/

            """)
        let report = try await trace("pipeline = rules\nrules_engines = procmail\nprocmail_user_rc = \(dir)/procmailrc\n")
        let events = try #require(report.stages.first { $0.name == "rules" }).events
        let recipes = events.filter { $0.file == "\(dir)/procmailrc" }
        #expect(recipes.map(\.line) == [1, 5], "\(events.map { "\($0.file ?? "-"):\($0.line ?? 0) \($0.text)" })")
        #expect(recipes.first?.text.hasPrefix("no match: line 2:") == true)
        let second = try #require(recipes.last?.text)
        #expect(second.hasPrefix("matched: "), "\(second)")
        #expect(second.contains("score 900") && second.contains("score 400"), "\(second)")
        #expect(second.hasSuffix("→ line 8: Offers/") || second.contains("line 8"), "\(second)")
    }
}

import Foundation
import Pipeline
import Testing
@testable import Spam

/// Bayes judged by Debian's SpamAssassin: sa-learn and mdad learn the same generated corpus
/// (a temporary home and database, `-L`, no network), then spamassassin and mdad classify
/// the same test messages and the BAYES_xx rule that fires is compared.
@Suite("Bayes judged by Debian's sa-learn and spamassassin", .serialized)
struct BayesDifferentialTests {
    @Test func sameBayesRuleAsSpamAssassin() throws {
        try #require(SpamAssassinHarness.installed, "spamassassin is not installed (scripts/deps TEST_PACKAGES)")
        let harness = try SpamAssassinHarness()
        defer { harness.remove() }
        let dir = harness.directory
        let saDB = dir.appendingPathComponent("sa-bayes").path
        try FileManager.default.createDirectory(atPath: saDB, withIntermediateDirectories: true)
        try """
            use_bayes 1
            use_bayes_rules 1
            bayes_auto_learn 0
            bayes_learn_to_journal 0
            bayes_path \(saDB)/bayes
            report_safe 0
            add_header all Hits _TESTS(,)_
            add_header all Bayes _BAYES_

            """.write(to: harness.siteConfig.appendingPathComponent("local.cf"), atomically: true, encoding: .utf8)

        // The training corpus, one file per message, as both learners read it.
        var corpus = BayesCorpus(seed: 8)
        let spamDir = dir.appendingPathComponent("train-spam"), hamDir = dir.appendingPathComponent("train-ham")
        for (d, share, kind) in [(spamDir, 0.85, "spam"), (hamDir, 0.15, "ham")] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            for i in 0..<220 {
                try Data(corpus.message(index: 10_000 + i, spamShare: share, kind: kind)).write(to: d.appendingPathComponent("\(kind)-\(i)"))
            }
        }
        // And messages with Received fields, HTML, encoded words and charsets (the rule
        // tests' generator), half learned as spam, half as ham.
        var varied = SpamCorpus(seed: 88)
        for i in 0..<160 {
            try Data(varied.message(20_000 + i)).write(to: (i % 2 == 0 ? spamDir : hamDir).appendingPathComponent("varied-\(i)"))
        }
        for (d, flag) in [(spamDir, "--spam"), (hamDir, "--ham")] {
            let status = try Self.run("/usr/bin/sa-learn", ["-L", "--configpath=\(SpamAssassinHarness.stockRules)", "--siteconfigpath=\(harness.siteConfig.path)",
                                                           "--dbpath", saDB + "/bayes", flag, d.path], home: dir.appendingPathComponent("home").path)
            try #require(status == 0, "sa-learn \(flag) exited with \(status)")
        }

        let rules = RuleSet.load(paths: harness.rulePaths)
        let settings = BayesSettings(rules)
        #expect(!settings.autoLearn, "bayes_auto_learn 0 from local.cf")
        #expect(!settings.tokenizer.stopwords.isEmpty, "the stopwords of 60_bayes_stopwords.cf")
        let store = try BayesStore.open(directory: dir.appendingPathComponent("mdad-bayes").path)
        let bayes = BayesClassifier(store: store, settings: settings)
        let spamSummary = BayesLearnCommand.learn(paths: [spamDir.path], isSpam: true, forget: false, bayes: bayes)
        let hamSummary = BayesLearnCommand.learn(paths: [hamDir.path], isSpam: false, forget: false, bayes: bayes)
        #expect(spamSummary.learned == 300 && hamSummary.learned == 300)

        // Test messages from all-ham to all-spam, short enough to land between the extremes.
        var tests: [[UInt8]] = []
        for i in 0..<60 {
            let share = Double(i % 21) / 20
            tests.append(corpus.message(index: i, spamShare: share, words: 8 + (i % 5) * 6, kind: "test"))
        }
        // A few words each, in every mix: these land between the extremes.
        for i in 60..<140 {
            tests.append(corpus.message(index: i, spamShare: Double(i % 11) / 10, words: 2 + i % 6, kind: "test", neutral: true))
        }
        let plainCount = tests.count
        for i in tests.count..<(tests.count + 60) { tests.append(varied.message(i)) }
        let judged = try harness.headers(tests)
        var agree = 0, agreeVaried = 0
        var differences: [String] = []
        var spread: [String: Int] = [:]
        for (i, raw) in tests.enumerated() {
            let fields = judged[i]
            let saRules = Set((fields.first { $0.name == "X-Spam-Hits" }?.value ?? "")
                .split(whereSeparator: { ",\n\t ".contains($0) }).map(String.init).filter { $0.hasPrefix("BAYES_") })
            let saP = fields.first { $0.name == "X-Spam-Bayes" }?.value ?? "?"
            let result = try rules.check(Message.parse(Spool(bytes: raw)), bayes: bayes)
            let ours = Set(result.hits.keys.filter { $0.hasPrefix("BAYES_") })
            for r in saRules { spread[r, default: 0] += 1 }
            if ours == saRules {
                agree += 1
                if i >= plainCount { agreeVaried += 1 }
                continue
            }
            let p = result.bayesProbability.map(BayesClassifier.format4) ?? "none"
            let cause = Self.cause(sa: Double(saP), mdad: result.bayesProbability, message: String(decoding: raw, as: UTF8.self))
            differences.append("message \(i): spamassassin \(saRules.sorted()) p=\(saP), mdad \(ours.sorted()) p=\(p): \(cause)")
        }
        let figure = Double(agree) / Double(tests.count) * 100
        print("Bayes differential: \(agree)/\(tests.count) messages fire the same BAYES_xx rule (\(String(format: "%.1f", figure))%)")
        print("  of which the varied messages (Received, HTML, encodings): \(agreeVaried)/\(tests.count - plainCount)")
        print("BAYES_xx rules spamassassin fired: \(spread.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))")
        for d in differences { print("  difference: \(d)") }
        #expect(spread.count >= 4, "the test messages spread over several BAYES_xx rules")
        // The floors this code meets: every plain message, and most of the varied ones (the
        // differences are the token sources listed in `cause`).
        #expect(agree - agreeVaried == plainCount, "a plain-text message without Received fields disagrees")
        #expect(figure >= 92, "agreement fell below the floor")
    }

    /// Why the two answers differ, from the two probabilities.
    static func cause(sa: Double?, mdad: Double?, message: String) -> String {
        // The token sources mdad does not have yet (see the report in the commit): the
        // X-Spam-Relays-* lines SpamAssassin derives from Received fields, and HTML's
        // invisible text (I*: tokens, and left out of the visible body).
        var sources: [String] = []
        if message.contains("\nReceived: ") { sources.append("Received fields (SpamAssassin's X-Spam-Relays-* tokens)") }
        if message.lowercased().contains("text/html") { sources.append("HTML (SpamAssassin's invisible-text I*: tokens)") }
        let gap = sources.isEmpty ? "" : "; the message has " + sources.joined(separator: " and ")
        guard let sa, let mdad else { return "one side found no strong known token\(gap)" }
        let edges = [0.01, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99, 0.999]
        if let e = edges.first(where: { min(sa, mdad) <= $0 && $0 < max(sa, mdad) }), abs(sa - mdad) < 0.02 {
            return "probabilities straddle the bucket edge \(e) (difference \(String(format: "%.4f", abs(sa - mdad))): token order among equal strengths or rounding\(gap))"
        }
        return "probabilities differ by \(String(format: "%.4f", abs(sa - mdad))): the token sets differ\(gap)"
    }

    static func run(_ program: String, _ arguments: [String], home: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}

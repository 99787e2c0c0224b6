import Foundation
import Pipeline
import Testing
@testable import Spam

/// The Bayes store and learner: learn, forget and relearn counts; a reader classifying while
/// a learner writes; the Junk-folder watcher; auto-learning.
@Suite("Bayes store, learning and feedback")
struct BayesTests {
    static func temporary(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-bayes-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func classifier(_ dir: String, settings: BayesSettings = BayesSettings()) throws -> BayesClassifier {
        BayesClassifier(store: try BayesStore.open(directory: dir + "/db"), settings: settings)
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func learnForgetRelearnCounts() throws {
        let dir = Self.temporary("counts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bayes = try Self.classifier(dir)
        var corpus = BayesCorpus(seed: 1)
        for i in 0..<3 { try Self.write(corpus.message(index: i, spamShare: 0.9, kind: "s"), "\(dir)/spam/\(i)") }
        // An mbox with two messages counts as two.
        var mbox: [UInt8] = []
        for i in 0..<2 { mbox += Array("From x@y Thu Jan  1 00:00:00 2026\n".utf8) + corpus.message(index: 50 + i, spamShare: 0.1, kind: "h") + [10] }
        try Self.write(mbox, "\(dir)/ham.mbox")

        var s = BayesLearnCommand.learn(paths: ["\(dir)/spam"], isSpam: true, forget: false, bayes: bayes)
        #expect(s == .init(learned: 3, known: 0, errors: 0))
        s = BayesLearnCommand.learn(paths: ["\(dir)/ham.mbox"], isSpam: false, forget: false, bayes: bayes)
        #expect(s == .init(learned: 2, known: 0, errors: 0))
        var counts = try bayes.store.read { try $0.counts() }
        #expect(counts == (3, 2))
        let tokensBefore = try bayes.store.read { try $0.tokenCount() }

        // The same messages again: already known, nothing changes.
        s = BayesLearnCommand.learn(paths: ["\(dir)/spam"], isSpam: true, forget: false, bayes: bayes)
        #expect(s == .init(learned: 0, known: 3, errors: 0))
        #expect(try bayes.store.read { try $0.counts() } == (3, 2))

        // Forget one spam: counts and that message's own tokens go back.
        s = BayesLearnCommand.learn(paths: ["\(dir)/spam/0"], isSpam: true, forget: true, bayes: bayes)
        #expect(s == .init(learned: 1, known: 0, errors: 0))
        counts = try bayes.store.read { try $0.counts() }
        #expect(counts == (2, 2))
        s = BayesLearnCommand.learn(paths: ["\(dir)/spam/0"], isSpam: true, forget: true, bayes: bayes)
        #expect(s == .init(learned: 0, known: 1, errors: 0), "forgetting twice is a no-op")
        // Relearning it as ham moves it over; as spam again, it is forgotten as ham first.
        s = BayesLearnCommand.learn(paths: ["\(dir)/spam/0"], isSpam: false, forget: false, bayes: bayes)
        #expect(s.learned == 1)
        #expect(try bayes.store.read { try $0.counts() } == (2, 3))
        s = BayesLearnCommand.learn(paths: ["\(dir)/spam/0"], isSpam: true, forget: false, bayes: bayes)
        #expect(s.learned == 1)
        #expect(try bayes.store.read { try $0.counts() } == (3, 2))
        #expect(try bayes.store.read { try $0.tokenCount() } == tokensBefore, "relearning restores exactly the same tokens")

        // Forget everything: no tokens are left.
        _ = BayesLearnCommand.learn(paths: ["\(dir)/spam"], isSpam: true, forget: true, bayes: bayes)
        _ = BayesLearnCommand.learn(paths: ["\(dir)/ham.mbox"], isSpam: false, forget: true, bayes: bayes)
        #expect(try bayes.store.read { try $0.counts() } == (0, 0))
        #expect(try bayes.store.read { try $0.tokenCount() } == 0)

        // A missing path is an error that names it; the rest is still learned.
        s = BayesLearnCommand.learn(paths: ["\(dir)/nothing-here", "\(dir)/spam/1"], isSpam: true, forget: false, bayes: bayes)
        #expect(s == .init(learned: 1, known: 0, errors: 1))
    }

    @Test func readerClassifiesWhileLearnerWrites() async throws {
        let dir = Self.temporary("mvcc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bayes = try Self.classifier(dir)
        var corpus = BayesCorpus(seed: 2)
        for i in 0..<200 {
            try Self.write(corpus.message(index: i, spamShare: 0.9, kind: "s"), "\(dir)/spam/\(i)")
            try Self.write(corpus.message(index: i, spamShare: 0.1, kind: "h"), "\(dir)/ham/\(i)")
        }
        for i in 0..<600 { try Self.write(corpus.message(index: 1000 + i, spamShare: i % 2 == 0 ? 0.9 : 0.1, kind: "more"), "\(dir)/more/\(i)") }
        _ = BayesLearnCommand.learn(paths: ["\(dir)/spam"], isSpam: true, forget: false, bayes: bayes)
        _ = BayesLearnCommand.learn(paths: ["\(dir)/ham"], isSpam: false, forget: false, bayes: bayes)
        let rules = RuleSet.parse("body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 0 0 3.5 3.5\nbayes_auto_learn 0\n")
        let settings = BayesSettings(rules)
        let reader = BayesClassifier(store: bayes.store, settings: settings)
        let probe = corpus.message(index: 5000, spamShare: 1.0, kind: "probe")
        let message = try Message.parse(Spool(bytes: probe))

        let writer = Task.detached {
            BayesLearnCommand.learn(paths: ["\(dir)/more"], isSpam: true, forget: false, bayes: bayes)
        }
        var checks = 0, lastSpamCount = 0
        var monotonic = true
        while checks < 2000 {
            let r = try rules.check(message, bayes: reader)
            #expect(r.bayesProbability != nil)
            let n = try bayes.store.read { try $0.counts().spam }
            if n < lastSpamCount { monotonic = false }
            lastSpamCount = n
            checks += 1
            if checks > 50, n == 800 { break }
        }
        let summary = await writer.value
        #expect(summary == .init(learned: 600, known: 0, errors: 0))
        #expect(monotonic, "a reader never sees the count go back")
        #expect(try bayes.store.read { try $0.counts() } == (800, 200))
        print("Bayes MVCC: \(checks) classifications while learning 600 messages")
    }

    @Test func watchLearnsMovedMessagesOnce() throws {
        let dir = Self.temporary("watch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bayes = try Self.classifier(dir)
        let maildir = dir + "/Maildir"
        for sub in ["", "/.Junk", "/.Work"] {
            for d in ["cur", "new", "tmp"] { try FileManager.default.createDirectory(atPath: maildir + sub + "/" + d, withIntermediateDirectories: true) }
        }
        var corpus = BayesCorpus(seed: 3)
        try Self.write(corpus.message(index: 1, spamShare: 0.9, kind: "w"), maildir + "/new/1700000000.M1P1.host")
        var filed = corpus.message(index: 2, spamShare: 0.9, kind: "w")
        filed = Array("X-Spam-Flag: YES\n".utf8) + filed
        try Self.write(filed, maildir + "/.Junk/new/1700000001.M2P1.host")
        let watcher = BayesFeedback(bayes: bayes, junkFolder: "Junk")

        #expect(try watcher.pass(maildir) == .init(spam: 0, ham: 0), "nothing moved yet; the filter's own Junk is not learned")
        // The user moves the first message into Junk (flags added): learned as spam, once.
        try FileManager.default.moveItem(atPath: maildir + "/new/1700000000.M1P1.host", toPath: maildir + "/.Junk/cur/1700000000.M1P1.host:2,S")
        #expect(try watcher.pass(maildir) == .init(spam: 1, ham: 0))
        #expect(try watcher.pass(maildir) == .init(spam: 0, ham: 0))
        #expect(try bayes.store.read { try $0.counts() } == (1, 0))
        // Moved out into another folder: learned as ham (the spam learning undone), once.
        try FileManager.default.moveItem(atPath: maildir + "/.Junk/cur/1700000000.M1P1.host:2,S", toPath: maildir + "/.Work/cur/1700000000.M1P1.host:2,S")
        #expect(try watcher.pass(maildir) == .init(spam: 0, ham: 1))
        #expect(try watcher.pass(maildir) == .init(spam: 0, ham: 0))
        #expect(try bayes.store.read { try $0.counts() } == (0, 1))
        // The filter's false positive rescued from Junk: ham.
        try FileManager.default.moveItem(atPath: maildir + "/.Junk/new/1700000001.M2P1.host", toPath: maildir + "/cur/1700000001.M2P1.host:2,")
        #expect(try watcher.pass(maildir) == .init(spam: 0, ham: 1))
        #expect(try bayes.store.read { try $0.counts() } == (0, 2))

        // The per-pass limit: three moved, one per pass.
        var limited = watcher
        limited.limitPerPass = 1
        for i in 10..<13 { try Self.write(corpus.message(index: i, spamShare: 0.9, kind: "w"), maildir + "/.Junk/cur/17000000\(i).M\(i)P1.host:2,S") }
        #expect(try limited.pass(maildir) == .init(spam: 1, ham: 0))
        #expect(try limited.pass(maildir) == .init(spam: 1, ham: 0))
        #expect(try limited.pass(maildir) == .init(spam: 1, ham: 0))
        #expect(try limited.pass(maildir) == .init(spam: 0, ham: 0))
    }

    @Test func autoLearnsClearSpamAndClearHam() throws {
        let dir = Self.temporary("autolearn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rules = RuleSet.parse("""
            header FROM_PRIZE From =~ /lottery-example/
            score FROM_PRIZE 6
            header SUBJ_ANY Subject =~ /\\S/
            score SUBJ_ANY 0.001
            body WORD_PRIZE /\\b(?:lottery|jackpot|prize|viagra|casino)\\b/i
            score WORD_PRIZE 7
            body BAYES_99 eval:check_bayes('0.99', '1.00')
            tflags BAYES_99 learn
            score BAYES_99 0 0 3.5 3.5
            """)
        let settings = BayesSettings(rules)
        #expect(settings.autoLearn && settings.thresholdSpam == 12 && settings.thresholdNonspam == 0.1)
        let bayes = try Self.classifier(dir, settings: settings)
        var corpus = BayesCorpus(seed: 4)
        // Clear spam: 13 points (6 header, 7 body), spam, learned as spam.
        var spam = corpus.message(index: 1, spamShare: 1.0, kind: "a")
        spam = Array(String(decoding: spam, as: UTF8.self).replacingOccurrences(of: "From: ", with: "From: winner@lottery-example.info\nX-Old-From: ").utf8) + Array("jackpot lottery\n".utf8)
        let r1 = try rules.check(Message.parse(Spool(bytes: spam)), bayes: bayes)
        #expect(r1.score >= 12 && r1.autolearn == "spam", "score \(r1.score) autolearn=\(r1.autolearn)")
        // Clear ham: only the near-zero subject rule, learned as ham.
        let ham = corpus.message(index: 2, spamShare: 0.0, kind: "a")
        let r2 = try rules.check(Message.parse(Spool(bytes: ham)), bayes: bayes)
        #expect(r2.autolearn == "ham", "score \(r2.score) autolearn=\(r2.autolearn)")
        #expect(try bayes.store.read { try $0.counts() } == (1, 1))
        // 7 body points but no header points: spam by score is not enough to learn it.
        let bodyOnly = Array(String(decoding: corpus.message(index: 3, spamShare: 0.0, kind: "a"), as: UTF8.self).utf8) + Array("jackpot\n".utf8)
        let rulesHigh = RuleSet.parse("body WORD_PRIZE /jackpot/\nscore WORD_PRIZE 14\n")
        let r3 = try rulesHigh.check(Message.parse(Spool(bytes: bodyOnly)), bayes: BayesClassifier(store: bayes.store, settings: BayesSettings(rulesHigh)))
        #expect(r3.autolearn == "no")
        // The header says so in X-Spam-Status.
        let status = rules.headerFields(for: r1, hostName: "h").first { $0.name == "X-Spam-Status" }?.value ?? ""
        #expect(status.contains("autolearn=spam"))
        // bayes_auto_learn 0: disabled.
        let off = RuleSet.parse("bayes_auto_learn 0\nbody X /jackpot/\n")
        let r4 = try off.check(Message.parse(Spool(bytes: ham)), bayes: BayesClassifier(store: bayes.store, settings: BayesSettings(off)))
        #expect(r4.autolearn == "disabled")
    }

    @Test func chiSquaredCombining() {
        // Equal evidence both ways is 0.5; strong spam tokens push towards 1, ham towards 0.
        #expect(abs(BayesClassifier.combine(spam: 100, ham: 100, [0.99, 0.01]) - 0.5) < 1e-9)
        #expect(BayesClassifier.combine(spam: 100, ham: 100, Array(repeating: 0.99, count: 20)) > 0.999)
        #expect(BayesClassifier.combine(spam: 100, ham: 100, Array(repeating: 0.01, count: 20)) < 0.001)
        #expect(BayesClassifier.inRange(0.995, ["0.99", "0.999"]))
        #expect(!BayesClassifier.inRange(0.99, ["0.99", "0.999"]))
        #expect(BayesClassifier.inRange(0.0, ["0", "0.01"]))
        #expect(BayesClassifier.inRange(0.9995, ["0.999", "undef"]))
        #expect(!BayesClassifier.inRange(nil, ["0", "0.01"]))
    }

    @Test func tokenizerForms() {
        let t = BayesTokenizer()
        func tok(_ s: String, _ r: BayesTokenizer.Region = .body) -> [String] {
            t.tokenize(Array(s.utf8), prefix: [], region: r).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(tok("Hello world") == ["hello", "world"])
        #expect(tok("Visit www.Example.com now").contains("UD:www.Example.com"))
        #expect(tok("Visit www.Example.com now").contains("UD:com"))
        #expect(tok("mail bob@example.org").contains("U*bob"))
        #expect(tok("mail bob@example.org").contains("D*example.org"))
        #expect(tok("supercalifragilisticexpialidocious") == ["sk:superca"])
        #expect(tok("FREE!!! money").contains("free"))
        #expect(tok("FREE!!! money").contains("FREE!!!"))
        #expect(tok("wait...what") == ["wait", "what"])
        #expect(tok("ab of to") == [])
    }
}

/// The spam stage with `spam_bayes = yes`: BAYES_xx fires once the store holds 200 of each,
/// the score uses score set 2, and X-Spam-Status says what auto-learning did.
@Suite("The spam stage with Bayes")
struct BayesStageTests {
    @Test func stageClassifiesAndAutoLearns() async throws {
        let dir = BayesTests.temporary("stage")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            body BAYES_99 eval:check_bayes('0.99', '1.00')
            tflags BAYES_99 learn
            score BAYES_99 0 0 3.5 3.5
            body BAYES_00 eval:check_bayes('0', '0.01')
            tflags BAYES_00 learn
            score BAYES_00 0 0 -1.5 -1.9
            body MDAD_LOTTERY /lottery/
            score MDAD_LOTTERY 1.0
            """.write(toFile: dir + "/local.cf", atomically: true, encoding: .utf8)
        var table = ParameterTable()
        for p in SpamStage.parameters { table.add(p) }
        var c = Configuration(table: table)
        c.set("spam_rules", dir + "/local.cf")
        c.set("spam_bayes", "yes")
        c.set("spam_bayes_path", dir + "/db")
        let stage = try SpamStage(configuration: c)
        let bayes = try #require(stage.bayes)
        var corpus = BayesCorpus(seed: 5)
        for i in 0..<200 {
            try BayesTests.write(corpus.message(index: i, spamShare: 0.9, kind: "s"), "\(dir)/spam/\(i)")
            try BayesTests.write(corpus.message(index: i, spamShare: 0.1, kind: "h"), "\(dir)/ham/\(i)")
        }
        // Below 200 of each, Bayes is not used: score set 0, BAYES_99 cannot fire.
        let probe = String(decoding: corpus.message(index: 900, spamShare: 1.0, kind: "p") + Array("lottery\n".utf8), as: UTF8.self)
        var early = try Transaction.literal(probe)
        await early.run(stage)
        #expect(String(decoding: early.message.header["X-Spam-Status"]!.rawValue, as: UTF8.self).contains("tests=MDAD_LOTTERY"))
        _ = BayesLearnCommand.learn(paths: ["\(dir)/spam"], isSpam: true, forget: false, bayes: bayes)
        _ = BayesLearnCommand.learn(paths: ["\(dir)/ham"], isSpam: false, forget: false, bayes: bayes)
        var tx = try Transaction.literal(probe)
        await tx.run(stage)
        let status = String(decoding: tx.message.header["X-Spam-Status"]!.rawValue, as: UTF8.self)
        #expect(status.contains("BAYES_99"), "\(status)")
        #expect(tx.message.header["X-Spam-Score"]?.value == "4.5")
        #expect(status.contains("autolearn=no"), "4.5 points is between the thresholds: \(status)")
    }
}

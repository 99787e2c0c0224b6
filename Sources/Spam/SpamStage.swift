import Logging
import Pipeline

/// The `spam` stage: scores each message with SpamAssassin's own rule files, adds
/// SpamAssassin's `X-Spam-*` headers, and per recipient files spam into a Junk folder or
/// rejects it above a threshold.
///
///     pipeline = spam
///     spam_rules = /usr/share/spamassassin, /etc/spamassassin
///     spam_folder = Junk
///     spam_reject_score = 15
///
/// The rules are compiled once, when the stage is built, and shared by every message.
public struct SpamStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("spam_rules", .list, default: "/usr/share/spamassassin, /etc/spamassassin",
              "SpamAssassin rule directories and files: each directory's *.pre files are read first, then its *.cf files (missing paths are skipped)."),
        .init("spam_folder", .string, default: "",
              "Folder that spam (score at or above required_score) is filed into for each recipient; empty: tag only."),
        .init("spam_reject_score", .string, default: "",
              "Score at or above which a recipient refuses the message with 550 5.7.1; empty: never reject."),
        .init("spam_required_score", .string, default: "",
              "Score from which a message is spam; empty: the rule files' required_score (5.0 by default)."),
        .init("spam_max_size", .size, default: "512000",
              "Larger messages are not scanned (as spamc's default limit); 0 means no limit."),
        .init("spam_feedback", .boolean, default: "no",
              "mdad serve learns from the Maildirs it delivers to: moved into the spam_folder (default Junk) as spam, moved out of it as ham, once each (needs spam_bayes = yes)."),
        .init("spam_feedback_interval", .time, default: "60s",
              "The pause between two spam_feedback passes over the Maildirs."),
    ] + BayesClassifier.parameters

    public let rules: RuleSet
    let folder: String?
    let rejectScore: Double?
    let requiredScore: Double?
    let maxSize: Int
    let hostName: String
    /// The Bayes classifier when spam_bayes = yes.
    public var bayes: BayesClassifier?

    public init(configuration c: Configuration) throws {
        let limits = try PCRERegex.Limits(c)
        rules = RuleSet.load(paths: try c.list("spam_rules"), limits: limits)
        let f = try c.string("spam_folder").trimmingWhitespace()
        folder = f.isEmpty ? nil : f
        rejectScore = try Self.number(c, "spam_reject_score")
        requiredScore = try Self.number(c, "spam_required_score")
        maxSize = try c.size("spam_max_size")
        hostName = (try? c.string("myhostname")) ?? Posix.hostName()
        bayes = try BayesClassifier.configured(c, rules: rules)
        if try c.bool("spam_feedback") {
            guard let bayes else {
                throw c.error("spam_feedback", "spam_feedback = yes needs spam_bayes = yes: it learns into the Bayes store")
            }
            var feedback = BayesFeedback(bayes: bayes, junkFolder: folder ?? "Junk")
            feedback.interval = Double(try c.seconds("spam_feedback_interval"))
            SpamFeedbackWatcher.shared.configure(feedback)
        } else {
            SpamFeedbackWatcher.shared.configure(nil)
        }
        if rules.ruleCount == 0 {
            throw c.error("spam_rules", "spam_rules = \(try c.list("spam_rules").joined(separator: ", ")): no SpamAssassin rules found; expected directories with *.cf files")
        }
    }

    public init(rules: RuleSet, folder: String? = nil, rejectScore: Double? = nil, requiredScore: Double? = nil,
                maxSize: Int = 512_000, hostName: String = "localhost") {
        self.rules = rules
        self.folder = folder
        self.rejectScore = rejectScore
        self.requiredScore = requiredScore
        self.maxSize = maxSize
        self.hostName = hostName
    }

    static func number(_ c: Configuration, _ name: String) throws -> Double? {
        let v = try c.string(name).trimmingWhitespace()
        guard !v.isEmpty else { return nil }
        guard let d = Double(v) else { throw c.error(name, "\(name) = \(v); expected a number such as 5.0, or nothing") }
        return d
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let size = transaction.message.receivedSize
        guard maxSize == 0 || size <= maxSize else {
            context.logger.info("\(transaction.queueID): spam: not scanned, size \(size) > spam_max_size \(maxSize)")
            return .continue
        }
        var result = try rules.check(transaction.message, envelopeFrom: transaction.envelope.isNullSender ? nil : transaction.envelope.sender, bayes: bayes)
        if let r = requiredScore { result.requiredScore = r }
        for e in result.matchErrors {
            // A pathological regex was cut off by pcre_match_limit / pcre_depth_limit: that
            // rule does not hit, the message goes on.
            context.logger.warning("\(transaction.queueID): spam: rule \(e.rule) stopped: \(e.error)")
        }
        SpamTrace.record(result, rules: rules, in: &transaction)
        apply(result, to: &transaction)
        context.logger.info("\(transaction.queueID): spam: score=\(RuleSet.format1(result.score)) required=\(RuleSet.format1(result.requiredScore)) tests=\(result.scoredRules.map(\.name).joined(separator: ","))")
        return .continue
    }

    /// Adds the headers and, per recipient, the Junk folder or the rejection.
    public func apply(_ result: SpamResult, to transaction: inout Transaction) {
        var header = transaction.message.header
        let ours = (rules.spamHeaders + rules.hamHeaders).map { "X-Spam-" + $0.name }
        for name in ["X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status", "X-Spam-Checker-Version", "X-Spam-Report"] + ours {
            header.removeAll(name) // a sender's own X-Spam-* fields must not pass for ours
        }
        var fields = rules.headerFields(for: result, hostName: hostName)
        // X-Spam-Score is not in SpamAssassin's default set; filters that want a number read it.
        fields.insert(("X-Spam-Score", RuleSet.format1(result.score)), at: fields.first?.name == "X-Spam-Flag" ? 1 : 0)
        var added: [HeaderField] = []
        for (name, value) in fields {
            if let f = try? HeaderField(name: name, multilineValue: value) { added.append(f) }
        }
        if result.isSpam, let prefix = rules.rewriteHeaders["subject"], let old = header["Subject"] {
            header.removeAll("Subject")
            let text = rules.expand(prefix, result, hostName: hostName) + " " + old.value
            if let f = try? HeaderField(name: "Subject", value: text) { header.append(f) }
        }
        header.fields.insert(contentsOf: added, at: 0)
        transaction.message.header = header
        Self.applyActions(isSpam: result.isSpam, score: result.score, folder: folder, rejectScore: rejectScore, to: &transaction)
    }

    /// Per recipient: reject at or above `rejectScore` with 550 5.7.1, else file spam into
    /// `folder`. Shared with the spamd stage.
    static func applyActions(isSpam: Bool, score: Double, folder: String?, rejectScore: Double?, to transaction: inout Transaction) {
        for i in transaction.pendingIndices {
            if let reject = rejectScore, score >= reject {
                transaction.recipients[i].reject(DeliveryStatus(.policyRejection, "Message rejected as spam (score \(RuleSet.format1(score)))"))
            } else if isSpam, let folder {
                transaction.recipients[i].fileInto(folder)
            }
        }
    }
}

import Pipeline

/// What the spam stages tell `mdad trace`: the score against the required score, and every
/// rule that hit with its score (and, for SpamAssassin's own rules, the file and line that
/// define it).
enum SpamTrace {
    /// Records the score line and one event per scored hit.
    static func record(_ result: SpamResult, rules: RuleSet, in transaction: inout Transaction) {
        guard transaction.tracing else { return }
        transaction.trace(.match, verdict(score: result.score, required: result.requiredScore, isSpam: result.isSpam))
        for hit in result.scoredRules {
            let place = rules.origin(of: hit.name)
            transaction.trace(.match, "hit \(hit.name) (\(RuleSet.format1(hit.score)))", file: place?.file, line: place?.line)
        }
    }

    /// Records spamd's verdict and the hits its report lists (`pts rule name` lines).
    static func record(_ reply: SpamdProtocol.Reply, report: SpamdProtocol.Reply?, in transaction: inout Transaction) {
        guard transaction.tracing else { return }
        transaction.trace(.match, verdict(score: reply.score, required: reply.threshold, isSpam: reply.isSpam))
        for hit in report.map({ hits(inReport: $0.body) }) ?? [] {
            transaction.trace(.match, "hit \(hit.name) (\(RuleSet.format1(hit.score)))")
        }
    }

    static func verdict(score: Double, required: Double, isSpam: Bool) -> String {
        "score \(RuleSet.format1(score)), required \(RuleSet.format1(required)): \(isSpam ? "spam" : "not spam")"
    }

    /// The rule lines of a SpamAssassin report (its `_SUMMARY_`): ` 1.2 RULE_NAME  description`.
    static func hits(inReport body: [UInt8]) -> [(name: String, score: Double)] {
        var out: [(String, Double)] = []
        for raw in String(decoding: body.prefix(1 << 20), as: UTF8.self).split(separator: "\n") {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, let score = Double(words[0]), words[1].first?.isLetter == true,
                  words[1].allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else { continue }
            out.append((String(words[1]), score))
            if out.count >= 1000 { break }
        }
        return out
    }
}

extension RuleSet {
    /// The file and line that define a rule (the last definition, as SpamAssassin takes it).
    func origin(of name: String) -> (file: String, line: Int)? {
        guard let i = index[name] else { return nil }
        let origin = rules[i].origin
        guard let colon = origin.lastIndex(of: ":"), let line = Int(origin[origin.index(after: colon)...]) else { return nil }
        return (String(origin[..<colon]), line)
    }
}

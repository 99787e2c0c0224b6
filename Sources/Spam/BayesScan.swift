import Pipeline

/// Checking a message with Bayes: the probability first (so check_bayes can read it), the
/// rules in score set 2 when Bayes is usable (0 otherwise: mdad runs no network tests, like
/// `spamassassin -L`), then SpamAssassin's auto-learning.
extension RuleSet {
    /// Checks a message; with `bayes`, classifies it and may auto-learn it.
    public func check(_ message: Message, envelopeFrom: String? = nil, bayes: BayesClassifier?) throws -> SpamResult {
        var m = try SpamMessage(message, envelopeFrom: envelopeFrom)
        guard let bayes, bayes.settings.useBayes else { return check(m) }
        let tokens = bayes.settings.tokenizer.tokens(m)
        // A store that cannot be read leaves Bayes out of this message; the message goes on.
        let (available, p) = (try? bayes.store.read { t -> (Bool, Double?) in
            guard try bayes.isAvailable(t) else { return (false, nil) }
            return (true, try bayes.probability(tokens, t))
        }) ?? (false, nil)
        m.bayesProbability = bayes.settings.useBayesRules ? p : nil
        var result = check(m)
        result.bayesProbability = m.bayesProbability
        if available { rescore(&result, set: 2) }
        result.autolearn = "no"
        guard bayes.settings.autoLearn else {
            result.autolearn = "disabled"
            return result
        }
        if let isSpam = autoLearnDecision(result, set: available ? 2 : 0, settings: bayes.settings) {
            do {
                _ = try bayes.store.write { t in
                    try bayes.learn(tokens, id: BayesClassifier.messageID(m), isSpam: isSpam, time: BayesClassifier.now(), t)
                }
                result.autolearn = isSpam ? "spam" : "ham"
            } catch {
                result.autolearn = "failed"
            }
        }
        return result
    }

    /// Recomputes the score and the scored rules from the hits with another score set.
    func rescore(_ result: inout SpamResult, set: Int) {
        var score = 0.0
        var scored: [(String, Double)] = []
        for (name, _) in result.hits {
            guard let i = index[name], !rules[i].isSubrule else { continue }
            let s = scoreSets[name].map { $0[min(set, $0.count - 1)] } ?? rules[i].score
            guard s != 0 else { continue }
            score += s
            scored.append((name, s))
        }
        result.score = (score * 1000).rounded() / 1000
        result.scoredRules = scored.sorted { $0.0 < $1.0 }
    }

    /// AutoLearnThreshold.pm: the learn score is the hits scored without the Bayes score set
    /// (set & ~2), leaving out `noautolearn`, `userconf` and `learn` rules; spam needs at least
    /// 3 header points and 3 body points (unless an `autolearn_force` rule hit), and the
    /// result must agree with the verdict. Returns true (spam), false (ham) or nil.
    func autoLearnDecision(_ r: SpamResult, set: Int, settings: BayesSettings) -> Bool? {
        let learnSet = set & ~2
        func score(_ name: String, _ s: Int) -> Double {
            guard let i = index[name] else { return 0 }
            return scoreSets[name].map { $0[min(s, $0.count - 1)] } ?? rules[i].score
        }
        func kind(_ name: String) -> String {
            guard let i = index[name] else { return "" }
            switch rules[i].type {
            case .header: return "head"
            case .body, .rawbody, .uri: return "body"
            case .meta: return "meta"
            default: return ""
            }
        }
        var points = 0.0, head = 0.0, body = 0.0, learned = 0.0
        var forced = false
        for (name, _) in r.hits {
            guard let i = index[name], !rules[i].isSubrule else { continue }
            let flags = tflags[name] ?? []
            if flags.contains("noautolearn") || flags.contains("userconf") { continue }
            if flags.contains("learn") { learned += score(name, set); continue }
            if flags.contains("autolearn_force") { forced = true }
            let force = flags.first { $0 == "autolearn_body" || $0 == "autolearn_header" }
            let s = score(name, learnSet)
            guard s != 0 else { continue }
            let k = kind(name)
            if force == "autolearn_header" || (force == nil && k == "head") { head += s }
            else if force == "autolearn_body" || (force == nil && k == "body") { body += s }
            else if k == "meta" {
                let deps = rules[i].dependencies.filter { index[$0] != nil }
                let h = deps.filter { kind($0) == "head" }.count, b = deps.filter { kind($0) == "body" }.count
                if h + b > 0 {
                    head += Self.round3(s * Double(h) / Double(h + b))
                    body += Self.round3(s * Double(b) / Double(h + b))
                }
            }
            points += s
        }
        points = Self.round3(points)
        let isSpam: Bool
        if points < settings.thresholdNonspam { isSpam = false }
        else if points >= settings.thresholdSpam { isSpam = true }
        else { return nil }
        if isSpam {
            let need = forced ? -99.0 : 3.0
            guard body >= need, head >= need, learned >= -1.0, r.isSpam else { return nil }
        } else {
            guard learned <= 1.0, !r.isSpam else { return nil }
        }
        if settings.autoLearnOnError {
            let names = Set(r.scoredRules.map(\.name))
            if isSpam && names.contains("BAYES_99") || !isSpam && names.contains("BAYES_00") { return nil }
        }
        return isSpam
    }

    static func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
}

extension BayesClassifier {
    static func now() -> UInt32 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt32(truncatingIfNeeded: ts.tv_sec)
    }
}

#if canImport(Glibc)
import Glibc
#endif

import Pipeline

/// The outcome of checking one message.
public struct SpamResult: Sendable {
    /// Every rule that hit (sub-rules `__…` and zero-scored rules included), with its count.
    public var hits: [String: Int] = [:]
    /// The score, rounded to three decimals as SpamAssassin keeps it.
    public var score: Double = 0
    public var requiredScore: Double
    /// Rules whose match was cut off by a PCRE2 limit: (rule, error). The message still passes.
    public var matchErrors: [(rule: String, error: String)] = []

    /// Set when something other than the score decides, as rspamd's action does; nil: the score.
    public var verdict: Bool?

    public var isSpam: Bool { verdict ?? (score >= requiredScore) }

    /// The rules that count (hit, score not 0, not a sub-rule), sorted by name as in `tests=`.
    public var scoredRules: [(name: String, score: Double)] = []
    /// `autolearn=` in X-Spam-Status: disabled, spam, ham, no, unavailable or failed.
    public var autolearn = "disabled"
    /// The Bayes probability when Bayes classified the message.
    public var bayesProbability: Double?
}

extension RuleSet {
    /// Checks a message against every enabled rule.
    public func check(_ message: Message, envelopeFrom: String? = nil) throws -> SpamResult {
        let m = try SpamMessage(message, envelopeFrom: envelopeFrom)
        return check(m)
    }

    func check(_ m: SpamMessage) -> SpamResult {
        var result = SpamResult(requiredScore: requiredScore)
        var hits = [Int](repeating: 0, count: rules.count)

        let scratch = PCRERegex.Scratch()
        func count(_ r: Rule, in text: [UInt8], upTo limit: Int) -> Int {
            guard limit > 0 else { return 0 }
            var total = 0
            text.withUnsafeBytes { buffer in
                for re in r.regexes {
                    var start = 0
                    while total < limit, start <= buffer.count {
                        let match: Range<Int>?
                        do {
                            match = try re.firstMatchRange(in: buffer, from: start, scratch: scratch)
                        } catch {
                            result.matchErrors.append((r.name, "\(error)"))
                            break
                        }
                        guard let match else { break }
                        total += 1
                        guard r.multiple else { return }
                        start = match.upperBound > match.lowerBound ? match.upperBound : match.upperBound + 1
                    }
                }
            }
            return total
        }

        func candidates(_ type: RuleType, _ texts: [[UInt8]]) -> [Int] {
            guard let ids = byType[type] else { return [] }
            guard let scanner = scanners[type] else { return ids }
            let found = scanner.scan(texts)
            return ids.filter { i in
                guard let lits = rules[i].literals else { return true }
                return lits.contains { found[$0] }
            }
        }

        // header: each distinct query is looked up once.
        if let ids = byType[.header] {
            let values = headerQueries.map { m.get($0, registry: registry, hostFinder: hostFinder) }
            let texts = values.compactMap { $0 }
            let run = Set(candidates(.header, texts))
            for i in ids {
                let r = rules[i]
                if let e = r.eval { hits[i] = EvalFunctions.run(e, m, self) ? 1 : 0; continue }
                guard let h = r.header else { continue }
                let value = values[r.querySlot]
                switch h.test {
                case .exists: hits[i] = value != nil ? 1 : 0
                case .doesNotExist: hits[i] = value == nil ? 1 : 0
                case .matches:
                    // Perl: an absent header is undef, which matches as "".
                    if value != nil && !run.contains(i) { continue }
                    hits[i] = count(r, in: value ?? h.ifUnset ?? [], upTo: r.maxHits)
                case .doesNotMatch:
                    // A regex that cannot match (its literals are absent) means the rule hits.
                    if value != nil && !run.contains(i) { hits[i] = 1; continue }
                    hits[i] = count(r, in: value ?? h.ifUnset ?? [], upTo: 1) > 0 ? 0 : 1
                }
            }
        }
        // body and rawbody: line by line; full: the whole message; uri: each URI.
        for (type, texts) in [(RuleType.body, m.body), (.rawbody, m.rawBody), (.full, [m.full]), (.uri, m.uris)] {
            guard byType[type] != nil else { continue }
            for i in byType[type]! where rules[i].eval != nil {
                hits[i] = EvalFunctions.run(rules[i].eval!, m, self) ? 1 : 0
            }
            for i in candidates(type, texts) where rules[i].regex != nil {
                let r = rules[i]
                var n = 0
                for t in texts {
                    n += count(r, in: t, upTo: r.maxHits - n)
                    if n >= r.maxHits { break }
                }
                hits[i] = n
            }
        }
        if let ids = byType[.mimeheader] {
            for i in ids {
                let r = rules[i]
                guard let h = r.header else { continue }
                for fields in m.partFields where !fields.isEmpty {
                    guard let v = m.get(h.query, in: fields, registry: registry, hostFinder: hostFinder) ?? h.ifUnset else { continue }
                    if count(r, in: v, upTo: 1) > 0 { hits[i] = 1; break }
                }
            }
        }
        for i in metaOrder {
            guard let e = rules[i].meta else { continue }
            let v = e.evaluate(indexed: { Double(hits[$0]) })
            hits[i] = v != 0 ? 1 : 0
        }
        var score = 0.0
        var scored: [(String, Double)] = []
        for (i, n) in hits.enumerated() where n > 0 {
            let r = rules[i]
            result.hits[r.name] = n
            if !r.isSubrule, r.score != 0 {
                score += r.score
                scored.append((r.name, r.score))
            }
        }
        result.score = (score * 1000).rounded() / 1000
        result.scoredRules = scored.sorted { $0.0 < $1.0 }
        return result
    }
}

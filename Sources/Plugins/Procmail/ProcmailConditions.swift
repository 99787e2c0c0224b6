import Pipeline

/// Conditions (procmailrc(5), "Conditions"; procmailsc(5) for scoring): regular expressions on
/// the header, the body or both, on a variable (`VAR ??`, `H ??`, `B ??`), `?` commands, `<`
/// and `>` sizes, `!` negation, `$` expansion, and `w^x` weights adding up to a score.
extension ProcmailInterpreter {
    /// Evaluates the conditions: every plain one must hold; weighted ones add up a score that
    /// must end above zero. Returns whether the recipe matched and why, condition by condition.
    func evaluate(_ r: ProcmailRecipe) -> (Bool, [String]) {
        var why: [String] = []
        var score = 0.0
        var weighted = false
        for c in r.conditions {
            var hit: Bool
            var count = 0
            switch c.kind {
            case .regex(let compiled, let text), .variable(_, let compiled, let text):
                var re = compiled
                if re == nil {
                    let expanded = expand(text, .condition).joined()
                    re = try? ProcmailRegex(expanded, caseSensitive: r.flags.caseSensitive)
                }
                guard let re else { why.append("line \(c.line): bad regular expression"); return (false, why) }
                var subject: [UInt8]
                if case .variable(let name, _, _) = c.kind {
                    // `H ??`, `B ??` and `HB ??` name the header and the body, not variables.
                    switch name {
                    case "H": subject = mail.searchableHeader
                    case "B": subject = Array(mail.body)
                    case "HB", "BH": subject = mail.searchableHeader + mail.body
                    default: subject = Array((vars[name] ?? "").utf8)
                    }
                } else {
                    subject = []
                    if r.flags.searchesHeader { subject += mail.searchableHeader }
                    if r.flags.searchesBody { subject += mail.body }
                }
                if let w = c.weight, !c.negate {
                    count = (try? re.count(in: subject, limit: 10_000)) ?? 0
                    hit = count > 0
                    _ = w
                } else {
                    let res: (matched: Bool, match: [UInt8]?) = (try? re.search(subject)) ?? (false, nil)
                    hit = res.matched
                    if hit, let m = res.match, !c.negate { vars["MATCH"] = String(decoding: m, as: UTF8.self) }
                }
            case .program(let command):
                // A program condition gets the part H and B name (both when neither is given).
                let h = r.flags.header || !r.flags.body, b = r.flags.body || !r.flags.header
                let res = runner().run(command, input: mail.commandInput(header: h, body: b))
                hit = res?.exitCode == 0
                count = hit ? 1 : 0
            case .size(let less, let bytes):
                hit = less ? mail.size < bytes : mail.size > bytes
                count = hit ? 1 : 0
            }
            if c.negate { hit.toggle(); count = hit ? 1 : 0 }
            if let (w, x) = c.weight {
                weighted = true
                if case .program = c.kind {
                    score += hit ? w : x
                } else if count > 0 {
                    var term = w
                    for _ in 0..<count {
                        score += term
                        term *= x
                        if abs(score) > 2147483647 { break }
                    }
                }
                why.append("line \(c.line): \(c.text) → \(count) match\(count == 1 ? "" : "es"), score \(formatScore(score))")
                if score >= 2147483647 { break }
                if score <= -2147483647 { lastScore = Int(score); return (false, why) }
            } else {
                why.append("line \(c.line): \(c.text) \(hit ? "holds" : "fails")")
                if !hit { return (false, why) }
            }
        }
        if weighted {
            lastScore = Int(score.rounded(.towardZero))
            return (score > 0, why)
        }
        return (true, why)
    }

    func formatScore(_ s: Double) -> String { s == s.rounded() ? String(Int(s)) : String(s) }
}

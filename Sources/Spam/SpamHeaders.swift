import Pipeline

/// SpamAssassin's result headers and report, from its templates (`add_header`, `report`), so
/// that MUA filters written for `X-Spam-Status: Yes` and `X-Spam-Flag: YES` keep working.
extension RuleSet {
    /// The version the `version=` tag and `_VERSION_` show: the SpamAssassin rule set mdad
    /// follows.
    public static let compatibleVersion = "4.0.1"

    /// The `X-Spam-*` fields for a result, in SpamAssassin's order, folded as it folds them.
    public func headerFields(for result: SpamResult, hostName: String) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for h in addHeaders {
            if h.which == "spam", !result.isSpam { continue }
            if h.which == "ham", result.isSpam { continue }
            let value = expand(h.template, result, hostName: hostName)
            out.append(("X-Spam-" + h.name, Self.fold(value, nameLength: 8 + h.name.count)))
        }
        return out
    }

    /// Template tags: `_YESNO_`, `_YESNOCAPS_`, `_SCORE_`, `_REQD_`, `_TESTS(,)_`,
    /// `_TESTSSCORES(,)_`, `_STARS(*)_`, `_VERSION_`, `_SUBVERSION_`, `_HOSTNAME_`,
    /// `_AUTOLEARN_`, `_SUMMARY_`. Unknown tags stay as they are.
    func expand(_ template: String, _ r: SpamResult, hostName: String) -> String {
        let t = Array(template)
        var out = ""
        var i = 0
        while i < t.count {
            guard t[i] == "_" else { out.append(t[i]); i += 1; continue }
            // A tag: "_", capitals and digits, optionally "(argument)", "_".
            var j = i + 1
            while j < t.count, t[j].isUppercase || t[j].isNumber { j += 1 }
            let name = String(t[(i + 1)..<j])
            var argument: String?
            if j < t.count, t[j] == "(", let close = t[j...].firstIndex(of: ")") {
                argument = String(t[(j + 1)..<close])
                j = close + 1
            }
            if !name.isEmpty, j < t.count, t[j] == "_", let value = tag(name, argument, r, hostName: hostName) {
                out += value
                i = j + 1
            } else {
                out.append("_")
                i += 1
            }
        }
        return out
    }

    func tag(_ name: String, _ argument: String?, _ r: SpamResult, hostName: String) -> String? {
        switch name {
        case "YESNO": return r.isSpam ? "Yes" : "No"
        case "YESNOCAPS": return r.isSpam ? "YES" : "NO"
        case "SCORE": return Self.format1(r.score)
        case "REQD": return Self.format1(r.requiredScore)
        case "TESTS": return r.scoredRules.isEmpty ? "none" : r.scoredRules.map(\.name).joined(separator: argument ?? ",")
        case "TESTSSCORES":
            return r.scoredRules.isEmpty ? "none" : r.scoredRules.map { "\($0.name)=\(Self.format3($0.score))" }.joined(separator: argument ?? ",")
        case "STARS":
            let n = max(0, min(50, Int(r.score)))
            return String(repeating: argument ?? "*", count: n)
        case "VERSION": return Self.compatibleVersion
        case "SUBVERSION": return "mdad"
        case "HOSTNAME": return hostName
        case "AUTOLEARN": return "no"
        case "SUMMARY": return summary(r)
        case "CONTACTADDRESS": return "the administrator of that system"
        default: return nil
        }
    }

    /// `%2.1f`, the way SpamAssassin prints scores.
    static func format1(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        let sign = tenths < 0 ? "-" : ""
        let a = Int(abs(tenths))
        return "\(sign)\(a / 10).\(a % 10)"
    }

    static func format3(_ v: Double) -> String {
        let t = Int((abs(v) * 1000).rounded())
        let frac = String(t % 1000)
        return (v < 0 ? "-" : "") + "\(t / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    /// The report's rule table, as `spamassassin -t` prints it.
    func summary(_ r: SpamResult) -> String {
        var lines: [String] = []
        for (name, score) in r.scoredRules {
            let i = index[name]!
            var s = Self.format1(score)
            while s.count < 4 { s = " " + s }
            var n = name
            while n.count < 22 { n += " " }
            lines.append("\(s) \(n) \(rules[i].describe)")
        }
        return lines.joined(separator: "\n")
    }

    /// The `spamassassin -t` report.
    public func report(for r: SpamResult) -> String {
        """
        Content analysis details:   (\(Self.format1(r.score)) points, \(Self.format1(r.requiredScore)) required)

         pts rule name              description
        ---- ---------------------- --------------------------------------------------
        \(summary(r))
        """
    }

    /// Folds a header value the way SpamAssassin's `_process_header` does: at spaces or
    /// commas, continuation lines starting with a tab, lines kept under 79 columns.
    static func fold(_ value: String, nameLength: Int) -> String {
        var lines: [String] = []
        var line = ""
        var column = nameLength + 2
        var token = ""
        func flush() {
            guard !token.isEmpty else { return }
            if column + token.count > 79, !line.isEmpty {
                lines.append(line)
                line = ""
                column = 8
                token = String(token.drop { $0 == " " })
            }
            line += token
            column += token.count
            token = ""
        }
        for c in value {
            if c == " " { flush(); token = " " } else { token.append(c); if c == "," { flush() } }
        }
        flush()
        lines.append(line)
        return lines.joined(separator: "\n\t")
    }
}

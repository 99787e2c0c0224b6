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
        for h in result.isSpam ? spamHeaders : hamHeaders {
            let value = expand(h.template, result, hostName: hostName)
            out.append(("X-Spam-" + h.name, Self.fold(value, name: h.name)))
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
        case "SUBTESTS":
            // Sub-rules (__…) that hit, each as often as it hit.
            let subs = r.hits.filter { $0.key.hasPrefix("__") }.sorted { $0.key < $1.key }.flatMap { Array(repeating: $0.key, count: $0.value) }
            return subs.isEmpty ? "none" : subs.joined(separator: argument ?? ",")
        case "TESTSSCORES":
            return r.scoredRules.isEmpty ? "none" : r.scoredRules.map { "\($0.name)=\(Self.perlNumber($0.score))" }.joined(separator: argument ?? ",")
        case "STARS":
            let n = max(0, min(50, Int(r.score)))
            return String(repeating: argument ?? "*", count: n)
        case "VERSION": return Self.compatibleVersion
        case "SUBVERSION": return "mdad"
        case "HOSTNAME": return hostName
        case "AUTOLEARN": return r.autolearn
        case "BAYES": return r.bayesProbability.map(BayesClassifier.format4) ?? "0.5"
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

    /// A number as Perl prints it: `1`, `2.5`, `-0.001`.
    static func perlNumber(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(v)"
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

    /// Folds a header value as SpamAssassin's `_process_header` does with `fold_headers`
    /// (Util::wrap: break after a blank or a comma, lines of at most 79 columns counting a tab
    /// as 8, continuation lines start with a tab).
    static func fold(_ value: String, name: String) -> String {
        let whole = Array("X-Spam-" + name + "!!" + value)
        // split(/((?<=[\s,]))/): pieces ending after each blank or comma, with the empty
        // captured separators between them.
        var arr: [String] = []
        var piece = ""
        for c in whole {
            piece.append(c)
            if c == " " || c == "\t" || c == "," || c == "\n" {
                arr.append(piece)
                arr.append("")
                piece = ""
            }
        }
        if !piece.isEmpty { arr.append(piece) } else if arr.last == "" { arr.removeLast() }
        func width(_ s: String) -> Int { s.count + s.filter { $0 == "\t" }.count * 7 }
        var pos = 0
        var continued = false
        while arr.count - 1 > pos {
            var len = width(arr[pos])
            if continued { len += width(arr[pos + 1]) }
            if len <= 79 {
                arr[pos] += arr.remove(at: pos + 1)
                continued = true
            } else {
                while let l = arr[pos].last, l == " " || l == "\t" || l == "\n" { arr[pos].removeLast() }
                pos += 1
                continued = false
                arr.insert("\t", at: pos)
            }
        }
        // s/^\s*\n//gm, then the part after "!!".
        let all = arr.joined(separator: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        var lines: [Substring] = []
        for (i, line) in all.enumerated() where i == all.count - 1 || !line.allSatisfy({ $0 == " " || $0 == "\t" }) {
            lines.append(line)
        }
        let joined = lines.joined(separator: "\n")
        guard let mark = joined.firstRange(of: "!!") else { return value }
        return String(joined[mark.upperBound...])
    }
}

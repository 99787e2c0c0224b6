import Pipeline

/// More of SpamAssassin's MIMEEval plugin in Swift: `check_for_uppercase` (the
/// __UPPERCASE_25_50 … rules).
enum MIMEEvalFunctions {
    static let table: [String: EvalFunctions.Function] = [
        "check_for_uppercase": { a, m, _ in
            guard a.count == 2, let lo = Double(a[0]), let hi = Double(a[1]) else { return false }
            let share = MIMEEvalFunctions.uppercaseShare(m)
            return share > lo && share <= hi
        },
    ]

    /// The percentage of capitals among letters and digits in the body lines with a blank
    /// between words; 0 for less than 200 bytes of such lines, and for charsets whose text
    /// looks like capitals (koi8-r, iso-2022-jp, gb2312 …).
    static func uppercaseShare(_ m: SpamMessage) -> Double {
        guard !likelyToFPAsCaps(m) else { return 0 }
        var length = 0, lower = 0, upper = 0
        for line in m.body {
            guard (try? wordGap?.firstMatch(in: line)) != nil else { continue }
            if (try? leftoverBase64?.firstMatch(in: line)) != nil { continue }
            var l = line
            // s/\x1b\$B.*\x1b\(B//gs: shift-JIS escapes.
            if let re = shiftJIS, let r = try? re.firstMatch(in: l) { l.removeSubrange(r.range) }
            length += l.count
            for b in l {
                if (b >= 97 && b <= 122) || (b >= 48 && b <= 57) { lower += 1 } else if b >= 65 && b <= 90 { upper += 1 }
            }
        }
        guard length >= 200, upper + lower > 0 else { return 0 }
        return Double(upper) / Double(upper + lower) * 100
    }

    /// body_charset_is_likely_to_fp: the message's Content-Type charset and every part's.
    static func likelyToFPAsCaps(_ m: SpamMessage) -> Bool {
        var charsets: [String] = []
        for fields in [m.fields] + m.partFields {
            for f in fields where f.key == "content-type" {
                if let c = charset(String(decoding: f.decoded, as: UTF8.self)), c.contains(where: \.isLetter) { charsets.append(c) }
            }
        }
        return charsets.contains { (try? capsCharset?.firstMatch(in: $0)) != nil }
    }

    /// get_charset_from_ct_line: `charset="…"`, `charset='…'` or `charset=…`.
    static func charset(_ ct: String) -> String? {
        guard let m = try? charsetParameter?.firstMatch(in: Array(ct.utf8)) else { return nil }
        let bytes = Array(ct.utf8)
        for g in m.groups.dropFirst() { if let r = g { return String(decoding: bytes[r], as: UTF8.self) } }
        return nil
    }

    static let wordGap = try? PCRERegex("\\S\\s+\\S", options: [])
    static let leftoverBase64 = try? PCRERegex("^(?:[A-Za-z0-9+/=]{60,76} ){2}", options: [])
    static let shiftJIS = try? PCRERegex("\\x1b\\$B.*\\x1b\\(B", options: [.dotAll])
    static let charsetParameter = try? PCRERegex("charset=\"([^\"]+)\"|charset='([^']+)'|charset=(\\S+)", options: [.caseless])
    static let capsCharset = try? PCRERegex("^[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*$",
                                            options: [.caseless])
}

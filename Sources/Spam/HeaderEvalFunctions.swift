import Pipeline

/// More of SpamAssassin's HeaderEval plugin in Swift: `check_illegal_chars`,
/// `check_for_to_in_subject` and `check_for_shifted_date` (the DATE_IN_PAST_* and
/// DATE_IN_FUTURE_* rules).
enum HeaderEvalFunctions {
    static let table: [String: EvalFunctions.Function] = [
        "check_illegal_chars": { a, m, _ in HeaderEvalFunctions.illegalChars(a, m) },
        "check_for_to_in_subject": { a, m, _ in HeaderEvalFunctions.toInSubject(a.first ?? "", m) },
        "check_for_shifted_date": { a, m, _ in
            guard a.count == 2 else { return false }
            let diff = HeaderEvalFunctions.dateDifference(m)
            let lo = a[0] == "undef" ? nil : Double(a[0])
            let hi = a[1] == "undef" ? nil : Double(a[1])
            if a[0] != "undef", lo == nil { return false }
            if a[1] != "undef", hi == nil { return false }
            return (lo.map { Double(diff) >= 3600 * $0 } ?? true) && (hi.map { Double(diff) < 3600 * $0 } ?? true)
        },
    ]

    /// check_illegal_chars(header, ratio, count): the share of bytes that RFC 2045 does not
    /// allow in a header (C0 controls but TAB, LF and CR; DEL; 8-bit) in the raw value. Valid
    /// UTF-8 without controls is allowed; one ¢, £ or ® in a Subject is forgiven.
    static func illegalChars(_ a: [String], _ m: SpamMessage) -> Bool {
        guard a.count == 3, let ratio = Double(a[1]), let count = Double(a[2]) else { return false }
        var name = a[0]
        if !name.hasSuffix(":raw") { name += ":raw" }
        guard let s = m.get(HeaderQuery(name)), s.contains(where: { !SpamMessage.isSpace($0) }) else { return false }
        func isControl(_ b: UInt8) -> Bool { b <= 0x08 || b == 0x0B || b == 0x0C || (b >= 0x0E && b <= 0x1F) }
        if s.contains(where: { $0 >= 0x80 }), String(validating: s, as: UTF8.self) != nil, !s.contains(where: isControl) { return false }
        var illegal = s.filter { isControl($0) || $0 >= 0x7F }.count
        if illegal > 0, name.lowercased() == "subject:raw", s.filter({ $0 == 0xA2 || $0 == 0xA3 || $0 == 0xAE }).count == 1 { illegal -= 1 }
        return Double(illegal) / Double(s.count) >= ratio && Double(illegal) >= count
    }

    /// check_for_to_in_subject('address'|'user'): the first To: address (or its local part)
    /// in the Subject, where greeting spam puts it ("bob: your invoice", "Re: bob").
    static func toInSubject(_ test: String, _ m: SpamMessage) -> Bool {
        // get('To:addr') in scalar context: the first address only.
        guard let all = m.get(HeaderQuery("To:addr")), let first = all.split(separator: 10).first, !first.isEmpty else { return false }
        let to = String(decoding: first, as: UTF8.self)
        let subject = m.get(HeaderQuery("Subject")) ?? []
        let pattern: String
        switch test {
        case "address":
            pattern = "\\b" + quote(to) + "\\b"
        case "user":
            let q = quote(String(to.prefix { $0 != "@" }))
            pattern = "^(?:(?:re|fw):\\s*(?:\\w+\\s+)?\(q)$|(?-i:\(q))\\s*[,:;!?-](?:$|\\s)|\(q)$|,\\s*\(q)[,:;!?-]$)"
        default:
            return false
        }
        guard let re = try? PCRERegex(pattern, options: [.caseless]) else { return false }
        return (try? re.firstMatch(in: subject)) != nil
    }

    /// Perl's \Q…\E: every character but letters, digits and "_" escaped.
    static func quote(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c.value >= 0x80 { out.unicodeScalars.append(c) } else {
                out += "\\"
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `_check_date_diff`: the Date: (or Resent-Date:) time minus the closest Received: time,
    /// in seconds; 0 when either is missing.
    static func dateDifference(_ m: SpamMessage) -> Int {
        var dateTime: Int?
        dates: for name in ["resent-date", "date"] {
            for f in m.fields where f.key == name {
                var v = f.decoded
                while v.last == 10 { v.removeLast() }
                guard !v.isEmpty else { continue }
                dateTime = RFC822Date.parse(v)
                if dateTime != nil { break dates }
            }
        }
        guard let dateTime else { return 0 }
        let times = receivedTimes(m)
        guard !times.isEmpty else { return 0 }
        var diffs = times.map { dateTime - $0 }
        if diffs.count > 1, diffs.last == 0 { diffs.removeLast() }
        // Perl's sort is stable: the first of equal absolute values wins.
        return diffs.enumerated().min { abs($0.element) != abs($1.element) ? abs($0.element) < abs($1.element) : $0.offset < $1.offset }!.element
    }

    /// `_get_received_header_times`: the dates of the Received: fields, the fetchmail and
    /// local hops set aside as SpamAssassin sets them aside.
    static func receivedTimes(_ m: SpamMessage) -> [Int] {
        guard let all = m.get(HeaderQuery("Received")) else { return [] }
        var received = all.split(separator: 10).map(Array.init).filter { $0.contains { !SpamMessage.isSpace($0) } }
        guard !received.isEmpty else { return [] }
        var local: [[UInt8]] = []
        if let first = received.first, (try? localHop?.firstMatch(in: first)) != nil || (try? qmailHop?.firstMatch(in: first)) != nil {
            local.append(received.removeFirst())
        }
        if let first = received.first, (try? fetchmailHop?.firstMatch(in: first)) != nil {
            local.append(received.removeFirst())
        } else if !local.isEmpty {
            received.insert(local.removeFirst(), at: 0)
        }
        var times: [Int] = []
        for r in received {
            guard let match = try? receivedDate?.firstMatch(in: r), let g = match.groups[1] else { continue }
            if let t = RFC822Date.parse(Array(r[g])) { times.append(t) }
        }
        return times
    }

    static let localHop = try? PCRERegex("\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*\\b127\\.0\\.0\\.1\\b)", options: [])
    static let qmailHop = try? PCRERegex("qmail \\d+ invoked by uid \\d+", options: [])
    static let fetchmailHop = try? PCRERegex("\\bby localhost with \\w+ \\(fetchmail-[\\d.]+", options: [])
    static let receivedDate = try? PCRERegex("(\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+)", options: [])
}

/// Util::parse_rfc822_date: SpamAssassin's lenient reading of a date (RFC 2822 and the
/// ctime-like forms of Received: lines), as seconds since 1970, years clamped to 1970…2037.
enum RFC822Date {
    static let zones: [String: Int] = [
        "UT": 0, "UTC": 0, "NDT": -230, "AST": -400, "ADT": -300, "NST": -330, "EST": -500, "EDT": -400, "CST": -600, "CDT": -500,
        "MST": -700, "MDT": -600, "PST": -800, "PDT": -700, "HST": -1000, "AKST": -900, "AKDT": -800, "HADT": -900, "HAST": -1000,
        "GMT": 0, "BST": 100, "IST": 100, "WET": 0, "WEST": 100, "CET": 100, "CEST": 200, "EET": 200, "EEST": 300, "MSK": 300,
        "MSD": 400, "MET": 100, "MEZ": 100, "MEST": 200, "MESZ": 200, "BRST": -200, "BRT": -300, "AEST": 1000, "AEDT": 1100,
        "ACST": 930, "ACDT": 1030, "AWST": 800, "NZST": 1200, "NZDT": 1300, "JST": 900, "KST": 900, "HKT": 800, "SGT": 800,
        "PHT": 800, "IDT": 300,
    ]
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let mon = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    static let dayMonthYear = try? PCRERegex(" (\\d+) \(mon) (\\d{4}) ", options: [.caseless])
    static let ctime = try? PCRERegex(" \(mon) +(\\d+) \\d+:\\d+:\\d+ (\\d{4}) ", options: [.caseless])
    static let shortYear = try? PCRERegex(" (\\d+) \(mon) (\\d{2,3}) ", options: [.caseless])
    static let clock = try? PCRERegex(" (\\d?\\d):(\\d\\d)(:(\\d\\d))? ", options: [])
    static let numericZone = try? PCRERegex(" ([-+]\\d{4}) ", options: [])
    static let namedZone = try? PCRERegex("\\b([A-Z]{2,4}(?:-DST)?)\\b", options: [])

    static func parse(_ date: [UInt8]) -> Int? {
        // " $date ", s/, */ /g, s/\s+/ /g
        var s: [UInt8] = [32]
        var i = 0
        while i < date.count {
            if date[i] == UInt8(ascii: ",") {
                s.append(32)
                i += 1
                while i < date.count, date[i] == 32 { i += 1 }
                continue
            }
            s.append(date[i])
            i += 1
        }
        s.append(32)
        var t: [UInt8] = []
        for b in s {
            let space = b == 32 || b == 9 || b == 10 || b == 13 || b == 12 || b == 11
            if space { if t.last != 32 { t.append(32) } } else { t.append(b) }
        }
        s = t
        /// s/re/ /: the groups of the first match, which is replaced by one blank.
        func take(_ re: PCRERegex?) -> [String?]? {
            guard let re, let m = try? re.firstMatch(in: s) else { return nil }
            let groups = m.groups.map { $0.map { String(decoding: s[$0], as: UTF8.self) } }
            s.replaceSubrange(m.range, with: [32])
            return groups
        }
        var day = 0, month = 0, year = 0
        if let g = take(dayMonthYear) {
            day = Int(g[1]!) ?? 0; month = monthNumber(g[2]!); year = Int(g[3]!) ?? 0
        } else if let g = take(ctime) {
            day = Int(g[2]!) ?? 0; month = monthNumber(g[1]!); year = Int(g[3]!) ?? 0
        } else if let g = take(shortYear) {
            day = Int(g[1]!) ?? 0; month = monthNumber(g[2]!)
            let y = g[3]!
            year = Int(y) ?? 0
            if y.count == 2, year < 50 { year += 2000 } else if y.count != 4 { year += 1900 }
        } else {
            return nil
        }
        var hour = 0, minute = 0, second = 0
        if let g = take(clock) {
            hour = Int(g[1]!) ?? 0; minute = Int(g[2]!) ?? 0; second = g[4].flatMap { Int($0) } ?? 0
        }
        var offset = 0 // in ±hhmm
        var sign = -1 // "-0000" when no zone is known
        if let g = take(numericZone) {
            let z = g[1]!
            sign = z.hasPrefix("-") ? -1 : 1
            offset = Int(z.dropFirst()) ?? 0
        } else if let g = take(namedZone), let z = zones[g[1]!] {
            sign = z < 0 ? -1 : 1
            offset = abs(z)
        }
        second = min(second, 59)
        minute = min(minute, 59)
        hour = min(hour, 23)
        var maxDay = 31
        if [4, 6, 9, 11].contains(month) { maxDay = 30 } else if month == 2 { maxDay = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28 }
        if day > maxDay {
            day = 1
            month += 1
            if month > 12 { month = 1; year += 1 }
        }
        year = max(1970, min(2037, year))
        // Time::Local's timegm refuses day 0.
        guard day >= 1, (1...12).contains(month) else { return nil }
        var time = CivilCalendar.daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        let seconds = ((offset / 100) * 60 + offset % 100) * 60
        if sign < 0 { time += seconds } else { time = time < seconds ? 0 : time - seconds }
        return time
    }

    static func monthNumber(_ m: String) -> Int { (months.firstIndex(of: m.lowercased()) ?? -1) + 1 }
}

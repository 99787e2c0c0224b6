import Pipeline

/// procmail's egrep dialect, translated to PCRE2 once when the rc is compiled.
///
/// What procmail means and PCRE2 does not (procmailrc(5), "Extended regular expressions"):
/// matching is case-insensitive unless the recipe has the `D` flag; `.` never matches a
/// newline; `$` matches the newline itself (so `^Subject:\/.*$` puts the newline in MATCH);
/// `^^` anchors at the very start or end of the text searched; `\<` and `\>` match one
/// non-word character (or an edge); `{`, `}` and every other backslashed character are
/// literal; `\/` splits the pattern, and the part matched by what follows it goes into MATCH,
/// the part before it matching as little as possible. The macros `^TO_`, `^TO`,
/// `^FROM_DAEMON` and `^FROM_MAILER` expand to the expressions the manual gives.
public struct ProcmailRegex: Sendable {
    public let source: String
    public let pcre: String
    /// Whether the pattern has `\/` (MATCH is then the last capture group).
    public let captures: Bool
    let regex: PCRERegex

    /// The longest pattern accepted after macro expansion.
    public static let maximumLength = 16 << 10

    public init(_ source: String, caseSensitive: Bool) throws(ProcmailRegexError) {
        self.source = source
        let (pattern, captures) = ProcmailRegex.translate(source)
        guard pattern.utf8.count <= ProcmailRegex.maximumLength else {
            throw ProcmailRegexError(message: "regular expression longer than \(ProcmailRegex.maximumLength) bytes")
        }
        pcre = pattern
        self.captures = captures
        var options: PCRERegex.Options = [.multiline]
        if !caseSensitive { options.insert(.caseless) }
        do {
            regex = try PCRERegex(pattern, options: options)
        } catch {
            throw ProcmailRegexError(message: error.message)
        }
    }

    /// Searches `subject`; nil when it does not match, else the MATCH text (nil without `\/`).
    public func search(_ subject: [UInt8]) throws(ProcmailRegexError) -> (matched: Bool, match: [UInt8]?) {
        do {
            guard let m = try regex.firstMatch(in: subject) else { return (false, nil) }
            guard captures, let r = m.groups.last ?? nil else { return (true, nil) }
            return (true, Array(subject[r]))
        } catch {
            throw ProcmailRegexError(message: error.message)
        }
    }

    /// Counts the matches of the pattern in `subject` (for weighted conditions), up to `limit`.
    public func count(in subject: [UInt8], limit: Int) throws(ProcmailRegexError) -> Int {
        var n = 0
        var from = 0
        do {
            while n < limit, from <= subject.count, let m = try regex.firstMatch(in: subject, from: from) {
                n += 1
                from = m.range.isEmpty ? m.range.upperBound + 1 : m.range.upperBound
            }
        } catch {
            throw ProcmailRegexError(message: error.message)
        }
        return n
    }

    static let macros: [(String, String)] = [
        ("^TO_", #"(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^-a-zA-Z0-9_.])?)"#),
        ("^TO", #"(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^a-zA-Z])?)"#),
        ("^FROM_DAEMON", #"(^(Mailing-List:|Precedence:.*(junk|bulk|list)|To: Multiple recipients of |(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)|n?uucp|LIST(SERV|proc)|NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\.smtp)|echo|mirror|s(erv(ices?|er)|mtp(error)?|ystem)|A(dmin(istrator)?|MMGR|utoanswer))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\(.*\).*)?)?$([^>]|$)))"#),
        ("^FROM_MAILER", #"(^(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops|r(esponse|oot)|(bbs\.)?smtp(error)?|s(erv(ices?|er)|ystem)|A(dmin(istrator)?|MMGR))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\(.*\).*)?)?$([^>]|$))"#),
    ]

    /// Expands the macros, then rewrites the egrep dialect as PCRE2.
    static func translate(_ source: String) -> (String, Bool) {
        var text = Array(source.utf8)
        // Macros first, longest name first (^TO_ before ^TO); the expansions contain no macro.
        var expanded: [UInt8] = []
        var i = 0
        outer: while i < text.count {
            if text[i] == UInt8(ascii: "^") {
                for (name, body) in macros.sorted(by: { $0.0.count > $1.0.count }) {
                    let n = Array(name.utf8)
                    if text.count - i >= n.count, Array(text[i..<(i + n.count)]) == n {
                        expanded += Array(body.utf8)
                        i += n.count
                        continue outer
                    }
                }
            }
            expanded.append(text[i])
            i += 1
        }
        text = expanded

        var out = ""
        var captures = false
        var left = true       // before `\/`: quantifiers are lazy
        var depth = 0         // open groups when `\/` came; the capture closes at the end
        i = 0
        while i < text.count {
            let c = text[i]
            switch c {
            case UInt8(ascii: "\\"):
                guard i + 1 < text.count else { out += "\\\\"; i += 1; continue }
                let n = text[i + 1]
                i += 2
                switch n {
                case UInt8(ascii: "/") where !captures:
                    captures = true
                    left = false
                    out += "("
                    depth = 1
                case UInt8(ascii: "<"), UInt8(ascii: ">"):
                    out += #"(?:[^a-zA-Z0-9_]|\A|\z)"#
                default:
                    out += literal(n)
                }
            case UInt8(ascii: "^"):
                if i + 1 < text.count, text[i + 1] == UInt8(ascii: "^") {
                    out += i == 0 ? #"\A"# : #"\z"#
                    i += 2
                } else {
                    out += "^"
                    i += 1
                }
            case UInt8(ascii: "$"):
                out += #"(?:\n|\z)"#
                i += 1
            case UInt8(ascii: "."):
                out += #"[^\n]"#
                i += 1
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"):
                out.append(Character(UnicodeScalar(c)))
                if left { out.append("?") }
                i += 1
            case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "|"):
                out.append(Character(UnicodeScalar(c)))
                i += 1
            case UInt8(ascii: "["):
                // A bracket expression, copied with PCRE2's specials escaped; `]` first is literal.
                var j = i + 1
                var cls = "["
                if j < text.count, text[j] == UInt8(ascii: "^") { cls += "^"; j += 1 }
                var first = true
                while j < text.count {
                    let b = text[j]
                    if b == UInt8(ascii: "]") && !first { break }
                    if b == UInt8(ascii: "[") && j + 1 < text.count && text[j + 1] == UInt8(ascii: ":"),
                       let end = findPosixClassEnd(text, from: j) {
                        cls += String(decoding: text[j...end], as: UTF8.self)
                        j = end + 1
                        first = false
                        continue
                    }
                    if b == UInt8(ascii: "\\") && j + 1 < text.count && text[j + 1] == UInt8(ascii: "t") {
                        cls += "\\t"; j += 2; first = false; continue
                    }
                    if b == UInt8(ascii: "\\") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]") {
                        cls += "\\"
                    }
                    cls += byte(b)
                    j += 1
                    first = false
                }
                if j >= text.count {
                    out += literal(c)   // an unclosed bracket is literal
                    i += 1
                } else {
                    out += cls + "]"
                    i = j + 1
                }
            default:
                out += literal(c)
                i += 1
            }
        }
        if captures { out += String(repeating: ")", count: depth) }
        return (out, captures)
    }

    static func findPosixClassEnd(_ t: [UInt8], from j: Int) -> Int? {
        var k = j + 2
        while k + 1 < t.count {
            if t[k] == UInt8(ascii: ":") && t[k + 1] == UInt8(ascii: "]") { return k + 1 }
            if !(t[k] >= 97 && t[k] <= 122) { return nil }
            k += 1
        }
        return nil
    }

    static func byte(_ b: UInt8) -> String {
        b < 0x80 && b >= 0x20 ? String(UnicodeScalar(b)) : "\\x{\(String(b, radix: 16))}"
    }

    static func literal(_ b: UInt8) -> String {
        let specials = Array(#"\^$.[]|()*+?{}/"#.utf8)
        if b == 10 { return "\\n" }
        if b == 9 { return "\\t" }
        if specials.contains(b) { return "\\" + String(UnicodeScalar(b)) }
        return byte(b)
    }
}

/// A regular expression procmail's dialect cannot express in PCRE2 (or PCRE2 refused).
public struct ProcmailRegexError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

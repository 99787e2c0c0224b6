import Pipeline

/// SpamAssassin's Bayes tokenizer (Plugin/Bayes.pm `tokenize`): words of the rendered body
/// (the Subject line first), the URIs, and most header fields, each header's words prefixed
/// `H<name>:`. Long words become `sk:` skips, domains add `UD:` tokens, addresses `U*`/`D*`,
/// capitalised and punctuated words add their plain forms. Works on bytes, as Perl does.
struct BayesTokenizer: Sendable {
    /// `bayes_max_token_length` (15).
    var maxTokenLength = 15
    /// `bayes_stopword_*` for the languages in `bayes_stopword_languages` (default `en`).
    var stopwords: [PCRERegex] = []
    /// `bayes_ignore_header` names, lower-cased.
    var ignoredHeaders: Set<String> = []

    enum Region { case header, body, uri }

    /// The distinct tokens of a message.
    func tokens(_ m: SpamMessage) -> Set<[UInt8]> {
        var out = Set<[UInt8]>()
        var n = 0
        for line in m.body {
            for t in tokenize(line, prefix: [], region: .body) { out.insert(t); n += 1 }
            if n >= 50_000 { break }
        }
        n = 0
        for u in m.uris {
            for t in tokenize(u, prefix: [], region: .uri) { out.insert(t); n += 1 }
            if n >= 10_000 { break }
        }
        n = 0
        for (name, value) in headerTexts(m) {
            for t in tokenize(value, prefix: Array(("H" + name + ":").utf8), region: .header) { out.insert(t); n += 1 }
            if n >= 10_000 { break }
        }
        out.remove([])
        return out
    }

    // MARK: one line

    func tokenize(_ input: [UInt8], prefix: [UInt8], region: Region) -> [[UInt8]] {
        var text = Self.keepWordBytes(input)
        text = Self.spaceOut(text, mark: UInt8(ascii: "."), min: 3, max: 6)
        text = Self.spaceOut(text, mark: UInt8(ascii: "-"), min: 2, max: 6)
        if region != .header { text = Self.lowerTitleCase(text) }
        var out: [[UInt8]] = []
        for raw in text.split(separator: 32) {
            var token = Array(raw.drop { Self.isTrim($0) })
            while let l = token.last, Self.isTrim(l) { token.removeLast() }
            guard token.count >= 3 else { continue }
            if isStopword(token) { continue }
            if region != .header {
                if Self.hasAddress(token) {
                    out += Self.addressTokens(token)
                } else if Self.hasDomain(token) {
                    out.append(Array("UD:".utf8) + token)
                    var bit = token[...]
                    while let dot = bit.firstIndex(of: UInt8(ascii: ".")), dot > bit.startIndex, dot + 1 < bit.endIndex {
                        bit = bit[(dot + 1)...]
                        out.append(Array("UD:".utf8) + bit)
                    }
                }
            }
            if token.count > maxTokenLength, !token.contains(UInt8(ascii: "*")) {
                let wide = Self.wideCharacters(token)
                if !wide.isEmpty {
                    for w in wide { out.append(prefix + Array("u8:".utf8) + w) }
                    continue
                }
                if region != .uri, let skip = Self.skipForm(token) { token = skip }
            }
            if region != .header {
                let plain = Self.isWordish
                if !token.allSatisfy(plain) { out.append(prefix + token.filter(plain)) }
                if token.contains(where: { $0 >= 65 && $0 <= 90 }) {
                    let lower = token.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
                    out.append(prefix + lower)
                    if !token.allSatisfy(plain) { out.append(prefix + lower.filter(plain)) }
                }
            }
            out.append(prefix + token)
        }
        return out
    }

    func isStopword(_ token: [UInt8]) -> Bool {
        stopwords.contains { (try? $0.firstMatch(in: token)) != nil }
    }

    static func isTrim(_ b: UInt8) -> Bool { b == 45 || b == 39 || b == 34 || b == 46 || b == 44 } // - ' " . ,
    static func isWord(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
    /// `[\w:*]`: what the decomposed forms keep.
    static let isWordish: @Sendable (UInt8) -> Bool = { isWord($0) || $0 == 58 || $0 == 42 }

    /// Letters, digits and `,@*!_'"$. -` stay, so do UTF-8 sequences and single bytes
    /// 0xA1–0xFF; every other byte becomes a space.
    static func keepWordBytes(_ s: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(s.count)
        var i = 0
        func cont(_ j: Int) -> Bool { j < s.count && s[j] >= 0x80 && s[j] <= 0xBF }
        while i < s.count {
            let b = s[i]
            if isWord(b) && b != 95 || b == 95 || [44, 64, 42, 33, 39, 34, 36, 46, 32, 45].contains(b) {
                out.append(b); i += 1; continue
            }
            var n = 0
            if b >= 0xC0 && b <= 0xDF && cont(i + 1) { n = 2 }
            else if b >= 0xE0 && b <= 0xEF && cont(i + 1) && cont(i + 2) { n = 3 }
            else if b >= 0xF0 && b <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3) { n = 4 }
            if n > 0 { out += s[i..<(i + n)]; i += n; continue }
            out.append(b >= 0xA1 ? b : 32)
            i += 1
        }
        return out
    }

    /// `s/(\w)(\.{3,6})(\w)/$1 $2 $3/g` (and the same for dashes).
    static func spaceOut(_ s: [UInt8], mark: UInt8, min: Int, max: Int) -> [UInt8] {
        guard s.contains(mark) else { return s }
        var out = [UInt8]()
        var i = 0
        while i < s.count {
            if isWord(s[i]) {
                var j = i + 1
                while j < s.count, s[j] == mark { j += 1 }
                let run = j - i - 1
                if run >= min, run <= max, j < s.count, isWord(s[j]) {
                    out.append(s[i]); out.append(32); out += s[(i + 1)..<j]; out.append(32); out.append(s[j])
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// `s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/' ' . lc($1) . $2 . ' '/ge`: a capital at the
    /// start or after a full stop, followed by no other capital up to a blank, is lowered.
    static func lowerTitleCase(_ s: [UInt8]) -> [UInt8] {
        func upper(_ b: UInt8) -> Bool { b >= 65 && b <= 90 }
        func space(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 || b == 12 || b == 11 }
        var out = [UInt8]()
        var pos = 0
        var start = 0
        while start < s.count {
            // Where this match would put its capital.
            var cap = -1
            if start == 0, upper(s[0]) { cap = 0 }
            if cap < 0, s[start] == 46 {
                var k = start + 1
                while k < s.count, space(s[k]) { k += 1 }
                if k > start + 1, k < s.count, upper(s[k]) { cap = k }
            }
            if cap >= 0 {
                var e = cap + 1
                while e < s.count, !upper(s[e]) { e += 1 }
                // Longest [^A-Z]+ followed by a blank (consumed) or the end.
                var end = -1, consumed = 0
                if e == s.count, e > cap + 1 { end = e }
                else {
                    var k = e - 1
                    while k >= cap + 2 { if space(s[k]) { end = k; consumed = 1; break }; k -= 1 }
                }
                if end >= 0 {
                    out += s[pos..<start]
                    out.append(32); out.append(s[cap] + 32); out += s[(cap + 1)..<end]; out.append(32)
                    pos = end + consumed
                    start = pos
                    continue
                }
            }
            start += 1
        }
        out += s[pos...]
        return out
    }

    static func hasAddress(_ t: [UInt8]) -> Bool {
        guard let at = t.firstIndex(of: 64) else { return false }
        for i in at..<t.count where t[i] == 64 && i > 0 && i + 1 < t.count && t[i - 1] != 32 && t[i + 1] != 32 { return true }
        return false
    }

    /// `/\S\.[a-z]/i`
    static func hasDomain(_ t: [UInt8]) -> Bool {
        guard t.count >= 3 else { return false }
        for i in 1..<(t.count - 1) where t[i] == 46 {
            let c = t[i + 1] | 0x20
            if c >= 97 && c <= 122 { return true }
        }
        return false
    }

    /// `U*local`, `D*domain` and `D*` for each parent domain.
    static func addressTokens(_ a: [UInt8]) -> [[UInt8]] {
        guard let at = a.lastIndex(of: 64), at > 0, at + 1 < a.count else { return [] }
        var out = [Array("U*".utf8) + a[..<at], Array("D*".utf8) + a[(at + 1)...]]
        var bit = a[(at + 1)...]
        while let dot = bit.firstIndex(of: 46), dot > bit.startIndex, dot + 1 < bit.endIndex {
            bit = bit[(dot + 1)...]
            out.append(Array("D*".utf8) + bit)
        }
        return out
    }

    /// Three- and four-byte UTF-8 characters of a long token that has two continuation bytes
    /// in a row.
    static func wideCharacters(_ t: [UInt8]) -> [[UInt8]] {
        func c(_ b: UInt8) -> Bool { b >= 0x80 && b <= 0xBF }
        guard t.indices.dropLast().contains(where: { c(t[$0]) && c(t[$0 + 1]) }) else { return [] }
        var out: [[UInt8]] = []
        var i = 0
        while i < t.count {
            if t[i] >= 0xE0, t[i] <= 0xEF, i + 2 < t.count, c(t[i + 1]), c(t[i + 2]) { out.append(Array(t[i...(i + 2)])); i += 3; continue }
            if t[i] >= 0xF0, t[i] <= 0xF4, i + 3 < t.count, c(t[i + 1]), c(t[i + 2]), c(t[i + 3]) { out.append(Array(t[i...(i + 3)])); i += 4; continue }
            i += 1
        }
        return out
    }

    /// `sk:` and the first seven characters, when at least two bytes follow them.
    static func skipForm(_ t: [UInt8]) -> [UInt8]? {
        func c(_ j: Int) -> Bool { j < t.count && t[j] >= 0x80 && t[j] <= 0xBF }
        var i = 0
        for _ in 0..<7 {
            guard i < t.count else { return nil }
            let b = t[i]
            if b >= 0xC0, b <= 0xDF, c(i + 1) { i += 2 }
            else if b >= 0xE0, b <= 0xEF, c(i + 1), c(i + 2) { i += 3 }
            else if b >= 0xF0, b <= 0xF4, c(i + 1), c(i + 2), c(i + 3) { i += 4 }
            else { i += 1 }
        }
        guard t.count - i >= 2 else { return nil }
        return Array("sk:".utf8) + t[..<i]
    }
}

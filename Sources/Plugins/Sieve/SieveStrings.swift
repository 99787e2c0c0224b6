/// Strings in scripts: variable references (RFC 5229), the set modifiers, and
/// encoded-character (RFC 5228 2.4.2.4).
enum SieveStrings {
    static func isVariableName(_ s: String) -> Bool {
        guard let f = s.utf8.first, SieveLexer.isIdentStart(f) else { return false }
        return s.utf8.allSatisfy(SieveLexer.isIdent)
    }

    /// RFC 5322 field name: printable ASCII except colon and space.
    static func isHeaderName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 997 && s.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
    }

    /// Splits `${name}` and `${N}` references out of a string; anything else stays text
    /// (a reference into an unknown namespace, a bad name, an unclosed `${`).
    static func split(_ s: String) -> SieveString {
        let b = Array(s.utf8)
        var parts: [SieveString.Part] = []
        var text: [UInt8] = []
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "$"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "{"),
               let close = b[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) {
                let name = String(decoding: b[(i + 2)..<close], as: UTF8.self)
                if let n = Int(name), name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                    if !text.isEmpty { parts.append(.text(String(decoding: text, as: UTF8.self))); text = [] }
                    parts.append(.match(n))
                    i = close + 1
                    continue
                }
                if isVariableName(name) {
                    if !text.isEmpty { parts.append(.text(String(decoding: text, as: UTF8.self))); text = [] }
                    parts.append(.variable(name.lowercased()))
                    i = close + 1
                    continue
                }
            }
            text.append(b[i])
            i += 1
        }
        if !text.isEmpty || parts.isEmpty { parts.append(.text(String(decoding: text, as: UTF8.self))) }
        return SieveString(parts: parts)
    }

    /// `${hex:41 42}` and `${unicode:263A}`; a malformed one stays as written.
    static func decodeEncodedCharacters(_ s: String) -> String {
        guard s.contains("${") else { return s }
        let b = Array(s.utf8)
        var out: [UInt8] = []
        var i = 0
        outer: while i < b.count {
            if b[i] == UInt8(ascii: "$"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "{"),
               let close = b[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) {
                let inner = String(decoding: b[(i + 2)..<close], as: UTF8.self)
                if let colon = inner.firstIndex(of: ":") {
                    let kind = inner[..<colon].lowercased().trimmingCharacters()
                    let items = inner[inner.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
                    if kind == "hex" || kind == "unicode" {
                        var bytes: [UInt8] = []
                        for item in items {
                            guard let v = UInt32(item, radix: 16) else { out.append(b[i]); i += 1; continue outer }
                            if kind == "hex" {
                                guard v <= 0xFF, item.count <= 2 || item.drop(while: { $0 == "0" }).count <= 2 else { out.append(b[i]); i += 1; continue outer }
                                bytes.append(UInt8(v))
                            } else {
                                guard let u = Unicode.Scalar(v) else { out.append(b[i]); i += 1; continue outer }
                                bytes += Array(String(Character(u)).utf8)
                            }
                        }
                        out += bytes
                        i = close + 1
                        continue
                    }
                }
            }
            out.append(b[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func apply(_ modifiers: [SieveModifier], to value: String) -> String {
        var v = value
        for m in modifiers {
            switch m {
            case .lower: v = asciiLower(v)
            case .upper: v = asciiUpper(v)
            case .lowerfirst: if let f = v.first { v = asciiLower(String(f)) + v.dropFirst() }
            case .upperfirst: if let f = v.first { v = asciiUpper(String(f)) + v.dropFirst() }
            case .quotewildcard:
                var o = ""
                for c in v { if c == "*" || c == "?" || c == "\\" { o.append("\\") }; o.append(c) }
                v = o
            case .quoteregex:
                var o = ""
                for c in v { if "\\^$.[]|()?*+{}".contains(c) { o.append("\\") }; o.append(c) }
                v = o
            case .encodeurl:
                var o = ""
                for b in v.utf8 {
                    if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "-._~".utf8.contains(b) {
                        o.unicodeScalars.append(Unicode.Scalar(b))
                    } else {
                        let h = String(b, radix: 16, uppercase: true)
                        o += "%" + (h.count == 1 ? "0" + h : h)
                    }
                }
                v = o
            case .length: v = String(v.unicodeScalars.count)
            }
        }
        return v
    }

    static func asciiLower(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    static func asciiUpper(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 & ~0x20 : $0 }, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingCharacters() -> String {
        let whole = String(self)
        let u = whole.utf8
        var start = u.startIndex, end = u.endIndex
        while start < end, u[start] == 32 || u[start] == 9 { start = u.index(after: start) }
        while end > start {
            let before = u.index(before: end)
            guard u[before] == 32 || u[before] == 9 else { break }
            end = before
        }
        return start == u.startIndex && end == u.endIndex ? whole : String(whole[start..<end])
    }
}

/// Mailbox names a script may file into: Maildir++ folders under the user's mailbox.
enum SieveMailboxNames {
    /// Why a name is refused, or nil when it is fine (no traversal, no control characters).
    static func problem(_ name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name.utf8.count > 1024 { return "the name is too long" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "the name contains control characters" }
        return nil
    }
}

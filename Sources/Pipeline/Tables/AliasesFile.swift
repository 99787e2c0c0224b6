/// The aliases(5) source format, read the way Postfix's postalias reads it.
///
/// Each logical line (continuation lines start with whitespace; `#` lines and empty lines are
/// skipped) is split into RFC 822 tokens. The name is everything before the first `:` (quotes
/// removed, folded to lower case); the value is the tokens after it, written back the way
/// Postfix's token writer does: one space between words, `, ` after a comma, no space around
/// `@`, `.` or `:`, quoting where a word needs it (`alice ,\n bob` → `alice, bob`,
/// `"|/bin/cmd"` kept quoted). A line with no name or no value is refused with
/// "need name:value pair"; a name seen again keeps its first value with a "duplicate entry"
/// warning (or the last one, with `replace`, as `postalias -r`).
public enum AliasesFile {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        public var line: Int
    }

    public struct Parsed: Sendable {
        public var entries: [Entry]
        /// Warnings in postalias's words, without the program prefix.
        public var warnings: [String]
    }

    enum TokenKind: Equatable { case atom, quoted, comment, literal, special(UInt8) }

    struct Token {
        var kind: TokenKind
        var text: [UInt8]
        /// An atom with a backslash-escaped character must be quoted when written.
        var needsQuotes = false

        var isWord: Bool {
            switch kind {
            case .atom, .quoted, .comment, .literal: return true
            case .special: return false
            }
        }
    }

    static let specials = Set("()<>@,;:\\\".[]".utf8)

    static func tokenize(_ bytes: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            if c == 32 || c == 9 || c == 10 || c == 13 { i += 1; continue }
            switch c {
            case UInt8(ascii: "\""):
                var text: [UInt8] = []
                i += 1
                while i < n && bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < n { text.append(bytes[i + 1]); i += 2; continue }
                    text.append(bytes[i]); i += 1
                }
                i += 1
                tokens.append(Token(kind: .quoted, text: text))
            case UInt8(ascii: "("):
                var depth = 0
                var text: [UInt8] = []
                i += 1
                while i < n {
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < n { text += bytes[i...(i + 1)]; i += 2; continue }
                    if bytes[i] == UInt8(ascii: "(") { depth += 1 }
                    if bytes[i] == UInt8(ascii: ")") { if depth == 0 { i += 1; break }; depth -= 1 }
                    text.append(bytes[i]); i += 1
                }
                tokens.append(Token(kind: .comment, text: text))
            case UInt8(ascii: "["):
                var text: [UInt8] = [c]
                i += 1
                while i < n && bytes[i] != UInt8(ascii: "]") { text.append(bytes[i]); i += 1 }
                if i < n { text.append(bytes[i]); i += 1 }
                tokens.append(Token(kind: .literal, text: text))
            case let s where specials.contains(s) && s != UInt8(ascii: "\\"):
                tokens.append(Token(kind: .special(s), text: [s]))
                i += 1
            default:
                var text: [UInt8] = []
                var escaped = false
                while i < n {
                    let b = bytes[i]
                    if b == UInt8(ascii: "\\"), i + 1 < n { text.append(bytes[i + 1]); escaped = true; i += 2; continue }
                    if b == 32 || b == 9 || b == 10 || b == 13 || (specials.contains(b) && b != UInt8(ascii: "\\")) { break }
                    text.append(b); i += 1
                }
                tokens.append(Token(kind: .atom, text: text, needsQuotes: escaped))
            }
        }
        return tokens
    }

    /// The items of a stored alias value, as local(8) reads them: split at commas outside
    /// quotes and comments, each item with its quotes removed and comments dropped
    /// (`a, "|/bin/x, y", b (c)` → `a`, `|/bin/x, y`, `b`).
    public static func valueItems(_ value: String) -> [String] {
        var items: [String] = []
        var group: [Token] = []
        for t in tokenize(Array(value.utf8)) + [Token(kind: .special(UInt8(ascii: ",")), text: [])] {
            if t.kind == .special(UInt8(ascii: ",")) {
                let item = internalize(group[...])
                if !item.isEmpty { items.append(item) }
                group = []
            } else {
                group.append(t)
            }
        }
        return items
    }

    /// The name: words joined by one space, quotes removed.
    static func internalize(_ tokens: ArraySlice<Token>) -> String {
        var out: [UInt8] = []
        var previousWord = false
        for t in tokens {
            if t.kind == .comment { continue }
            if previousWord && t.isWord { out.append(32) }
            out += t.text
            previousWord = t.isWord
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value as Postfix's token writer puts it back together.
    static func externalize(_ tokens: ArraySlice<Token>) -> String {
        var out: [UInt8] = []
        var previous: Token?
        for t in tokens {
            if let p = previous {
                if (p.isWord && t.isWord) || p.kind == .special(UInt8(ascii: ",")) || (p.isWord && t.kind == .special(UInt8(ascii: "<"))) {
                    out.append(32)
                }
            }
            switch t.kind {
            case .quoted: out += quote(t.text)
            case .comment: out += [UInt8(ascii: "(")] + t.text + [UInt8(ascii: ")")]
            case .atom where t.needsQuotes: out += quote(t.text)
            default: out += t.text
            }
            previous = t
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func quote(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in text {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    public static func parse(_ text: String, file: String, replace: Bool = false) -> Parsed {
        parse(bytes: Array(text.utf8), file: file, replace: replace)
    }

    /// Parses the source bytes (lines split on LF; a CR before it is dropped). Works on bytes,
    /// not Characters: a million-line aliases file must compile in seconds.
    public static func parse(bytes: [UInt8], file: String, replace: Bool = false) -> Parsed {
        var logical: [(bytes: ArraySlice<UInt8>, extra: [UInt8]?, line: Int)] = []
        var number = 0
        var start = 0
        let n = bytes.count
        while start <= n {
            var end = start
            while end < n && bytes[end] != 10 { end += 1 }
            if start == n && end == n { break }
            number += 1
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == 13 { lineEnd -= 1 }
            var first = start
            while first < lineEnd && (bytes[first] == 32 || bytes[first] == 9) { first += 1 }
            if first < lineEnd && bytes[first] != UInt8(ascii: "#") {
                if first > start, !logical.isEmpty {
                    var joined = logical[logical.count - 1].extra ?? Array(logical[logical.count - 1].bytes)
                    joined.append(32)
                    joined += bytes[first..<lineEnd]
                    logical[logical.count - 1].extra = joined
                } else {
                    logical.append((bytes[first..<lineEnd], nil, number))
                }
            }
            start = end + 1
        }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var warnings: [String] = []
        for (slice, extra, line) in logical {
            let tokens = tokenize(extra ?? Array(slice))
            guard let colon = tokens.firstIndex(where: { $0.kind == .special(UInt8(ascii: ":")) }),
                  colon > 0, colon + 1 < tokens.count else {
                warnings.append("\(file), line \(line): need name:value pair")
                continue
            }
            let key = internalize(tokens[..<colon]).lowercased()
            let value = externalize(tokens[(colon + 1)...])
            if let existing = index[key] {
                if replace {
                    entries[existing] = Entry(key: key, value: value, line: line)
                } else {
                    warnings.append("\(file): duplicate entry: \"\(key)\"")
                }
                continue
            }
            index[key] = entries.count
            entries.append(Entry(key: key, value: value, line: line))
        }
        return Parsed(entries: entries, warnings: warnings)
    }
}

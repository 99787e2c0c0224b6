/// The lexical tokens of RFC 5322 section 3.2 (with the obsolete forms of section 4), read
/// lazily from header bytes so that a parser that stops early reads no further.
struct AddressLexer {
    enum Kind: Equatable {
        case atom           // atext run (RFC 5322 section 3.2.3), 8-bit bytes allowed (RFC 6532)
        case quoted         // quoted-string, content unescaped
        case comment        // comment, content unescaped, nested comments flattened
        case domainLiteral  // [ … ] including the brackets
        case special(UInt8) // one of < > , : ; @ . and any other stray special
    }

    struct Token {
        var kind: Kind
        var text: [UInt8]
    }

    let bytes: [UInt8]
    var pos = 0
    /// Tokens handed out so far; the parser uses it to make sure every step consumes input.
    private(set) var consumed = 0
    private var peeked: Token??

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The most nested comment levels followed; deeper parentheses are content.
    static let maxCommentDepth = 32

    static func isAtext(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"),
             UInt8(ascii: "~"):
            return true
        default:
            return c >= 0x80
        }
    }

    mutating func peek() -> Token? {
        if let p = peeked { return p }
        let t = lex()
        peeked = .some(t)
        return t
    }

    mutating func next() -> Token? {
        consumed += 1
        if let p = peeked { peeked = nil; return p }
        return lex()
    }

    private mutating func lex() -> Token? {
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 32 || c == 9 || c == 10 || c == 13 { pos += 1; continue }
            if Self.isAtext(c) {
                let s = pos
                while pos < bytes.count, Self.isAtext(bytes[pos]) { pos += 1 }
                return Token(kind: .atom, text: Array(bytes[s..<pos]))
            }
            switch c {
            case UInt8(ascii: "\""):
                pos += 1
                var text: [UInt8] = []
                while pos < bytes.count, bytes[pos] != UInt8(ascii: "\"") {
                    if bytes[pos] == UInt8(ascii: "\\"), pos + 1 < bytes.count { pos += 1 }
                    // Folding inside a quoted string is removed (RFC 5322 section 3.2.4).
                    if bytes[pos] != 10 && bytes[pos] != 13 { text.append(bytes[pos]) }
                    pos += 1
                }
                pos = min(pos + 1, bytes.count)   // the closing quote, when there is one
                return Token(kind: .quoted, text: text)
            case UInt8(ascii: "("):
                var depth = 0
                var text: [UInt8] = []
                while pos < bytes.count {
                    let d = bytes[pos]
                    if d == UInt8(ascii: "\\"), pos + 1 < bytes.count {
                        // A quoted line break is folding all the same: it never enters the text.
                        if bytes[pos + 1] != 10 && bytes[pos + 1] != 13 { text.append(bytes[pos + 1]) }
                        pos += 2
                        continue
                    }
                    if d == UInt8(ascii: "(") {
                        depth += 1
                        if depth > 1 && depth <= Self.maxCommentDepth { text.append(d) }
                    } else if d == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 { pos += 1; break }
                        if depth < Self.maxCommentDepth { text.append(d) }
                    } else if d != 10 && d != 13 {
                        text.append(d)
                    }
                    pos += 1
                }
                return Token(kind: .comment, text: text)
            case UInt8(ascii: "["):
                let s = pos
                while pos < bytes.count, bytes[pos] != UInt8(ascii: "]") { pos += 1 }
                pos = min(pos + 1, bytes.count)
                return Token(kind: .domainLiteral, text: Array(bytes[s..<pos]).filter { $0 != 10 && $0 != 13 })
            default:
                pos += 1
                return Token(kind: .special(c), text: [c])
            }
        }
        return nil
    }
}

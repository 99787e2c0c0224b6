/// A compile error in a Sieve script, worded as Pigeonhole words them
/// (`script: line N: error: …`).
public struct SieveError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The script's name as errors show it (the file name without `.sieve`).
    public var script: String
    public var line: Int
    /// The column (1-based, in bytes) of the offending token for syntax errors, of the command
    /// or test for validation errors; 0 when not known.
    public var column: Int
    public var message: String
    /// The errors found after this one: a script reports all its errors (up to
    /// ``SieveError/maxErrors``), as Pigeonhole does; empty for a lone error.
    public var more: [SieveError] = []
    /// Which step failed, for the summary line: `parse` or `validation`.
    public var phase: String = "validation"

    /// The most errors one script reports; compilation stops there.
    public static let maxErrors = 100

    public init(script: String, line: Int, column: Int = 0, _ message: String) {
        self.script = script
        self.line = line
        self.column = column
        self.message = message
    }

    /// `name: line N, column C: error: message.` (Pigeonhole's wording, with the column).
    public var description: String {
        guard line > 0 else { return "\(script): error: \(message)." }
        return "\(script): line \(line)\(column > 0 ? ", column \(column)" : ""): error: \(message)."
    }

    /// Every error, this one first.
    public var all: [SieveError] {
        var first = self
        first.more = []
        return [first] + more
    }

    /// Every error on its own line, then Pigeonhole's summary (`name: error: parse failed.`).
    public var report: String {
        all.map { $0.description + "\n" }.joined() + "\(script): error: \(phase) failed.\n"
    }

    /// The first of `errors` carrying the others (nil when there are none).
    static func collected(_ errors: [SieveError], phase: String) -> SieveError? {
        guard var first = errors.first else { return nil }
        first.more = Array(errors.dropFirst())
        first.phase = phase
        return first
    }

    /// The 1-based column of the first byte that is not a blank on line `line` (0 when the
    /// script has no such line, or it is blank).
    static func firstColumn(ofLine line: Int, in bytes: [UInt8]) -> Int {
        guard line >= 1 else { return 0 }
        var i = 0, current = 1
        while current < line, i < bytes.count {
            if bytes[i] == 10 { current += 1 }
            i += 1
        }
        guard current == line else { return 0 }
        var column = 1
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 { i += 1; column += 1 }
        return i < bytes.count && bytes[i] != 10 && bytes[i] != 13 ? column : 0
    }

    /// The 1-based column of byte `offset` in `bytes` (bytes since the line start).
    static func column(of offset: Int, in bytes: [UInt8]) -> Int {
        var i = min(offset, bytes.count)
        let stop = max(0, i - 100_000)
        while i > stop, bytes[i - 1] != 10 { i -= 1 }
        return min(offset, bytes.count) - i + 1
    }
}

/// One token of RFC 5228's lexical grammar (section 8.1).
enum SieveToken: Equatable {
    case identifier(String)
    case tag(String)
    case number(Int)
    case string(String)
    case punct(UInt8)   // [ ] , ; { } ( )
    case end
}

/// Splits a script into tokens: identifiers, `:tags`, numbers with K/M/G, quoted strings with
/// their escapes, `text:` multi-line strings with dot-stuffing, `#` and bracketed comments.
struct SieveLexer {
    let bytes: [UInt8]
    let script: String
    var pos = 0
    var line = 1
    /// The line the last token started on, and its byte offset.
    var tokenLine = 1
    var tokenStart = 0
    /// Longest string literal accepted (a limit on every buffer).
    static let maxStringSize = 1 << 20

    init(_ bytes: [UInt8], script: String) {
        self.bytes = bytes
        self.script = script
    }

    func error(_ message: String) -> SieveError {
        SieveError(script: script, line: line, column: SieveError.column(of: pos, in: bytes), message)
    }

    mutating func next() throws(SieveError) -> SieveToken {
        try skipWhitespace()
        tokenLine = line
        tokenStart = pos
        guard pos < bytes.count else { return .end }
        let c = bytes[pos]
        switch c {
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "("), UInt8(ascii: ")"):
            pos += 1
            return .punct(c)
        case UInt8(ascii: "\""):
            return .string(try quoted())
        case UInt8(ascii: ":"):
            pos += 1
            guard pos < bytes.count, Self.isIdentStart(bytes[pos]) else {
                throw error("unexpected character(s) starting with ':'")
            }
            return .tag(identifier())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try number())
        default:
            guard Self.isIdentStart(c) else {
                let shown = c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "0x" + String(c, radix: 16)
                throw error("unexpected character(s) starting with '\(shown)'")
            }
            let word = identifier()
            if word.lowercased() == "text", pos < bytes.count, bytes[pos] == UInt8(ascii: ":") {
                pos += 1
                return .string(try multiline())
            }
            return .identifier(word)
        }
    }

    static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
    }

    static func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 0x30 && c <= 0x39) }

    mutating func skipWhitespace() throws(SieveError) {
        while pos < bytes.count {
            let c = bytes[pos]
            if c == 10 { line += 1; pos += 1 }
            else if c == 32 || c == 9 || c == 13 { pos += 1 }
            else if c == UInt8(ascii: "#") {
                while pos < bytes.count, bytes[pos] != 10 { pos += 1 }
            } else if c == UInt8(ascii: "/"), pos + 1 < bytes.count, bytes[pos + 1] == UInt8(ascii: "*") {
                let startLine = line
                pos += 2
                var closed = false
                while pos + 1 < bytes.count {
                    if bytes[pos] == UInt8(ascii: "*"), bytes[pos + 1] == UInt8(ascii: "/") { pos += 2; closed = true; break }
                    if bytes[pos] == 10 { line += 1 }
                    pos += 1
                }
                if !closed {
                    while pos < bytes.count { if bytes[pos] == 10 { line += 1 }; pos += 1 }
                    throw error("end of file before end of bracket comment ('/* ... */') started at line \(startLine)")
                }
            } else { return }
        }
    }

    mutating func identifier() -> String {
        let start = pos
        while pos < bytes.count, Self.isIdent(bytes[pos]) { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    mutating func number() throws(SieveError) -> Int {
        var value = 0
        while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[pos] - 0x30))
            if o1 || o2 || a > Int(UInt32.max) { throw error("number is too large") }
            value = a
            pos += 1
        }
        if pos < bytes.count {
            var shift = 0
            switch bytes[pos] | 0x20 {
            case UInt8(ascii: "k"): shift = 10
            case UInt8(ascii: "m"): shift = 20
            case UInt8(ascii: "g"): shift = 30
            default: break
            }
            if shift > 0 {
                pos += 1
                value <<= shift
                if value > Int(UInt32.max) { throw error("number is too large") }
            }
        }
        if pos < bytes.count, Self.isIdentStart(bytes[pos]) {
            throw error("unexpected character(s) starting with '\(String(UnicodeScalar(bytes[pos])))'")
        }
        return value
    }

    /// A quoted string: `\"` and `\\` are the escapes; any other `\x` is `x` (RFC 5228 2.4.2).
    mutating func quoted() throws(SieveError) -> String {
        let startLine = line
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            var c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                pos += 1
                guard pos < bytes.count else { break }
                c = bytes[pos]
            }
            if c == 10 { line += 1 }
            out.append(c)
            pos += 1
            if out.count > Self.maxStringSize { throw error("string is too long") }
        }
        throw error("end of file before end of quoted string started at line \(startLine)")
    }

    /// `text:` then optional whitespace and a `#` comment up to the line end; lines up to one
    /// holding a lone `.`; a line starting with `..` loses one dot.
    mutating func multiline() throws(SieveError) -> String {
        while pos < bytes.count, bytes[pos] == 32 || bytes[pos] == 9 { pos += 1 }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "#") {
            while pos < bytes.count, bytes[pos] != 10 { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == 13 { pos += 1 }
        guard pos < bytes.count, bytes[pos] == 10 else {
            throw error("invalid character after 'text:' (expected a line end)")
        }
        pos += 1
        line += 1
        var out: [UInt8] = []
        let startLine = line
        while pos < bytes.count {
            var end = pos
            while end < bytes.count, bytes[end] != 10 { end += 1 }
            var content = bytes[pos..<end]
            if content.last == 13 { content = content.dropLast() }
            let hasNewline = end < bytes.count
            pos = hasNewline ? end + 1 : end
            if content.count == 1, content.first == UInt8(ascii: ".") {
                if hasNewline { line += 1 }
                return String(decoding: out, as: UTF8.self)
            }
            if content.first == UInt8(ascii: "."), content.count > 1, content[content.startIndex + 1] == UInt8(ascii: ".") {
                content = content.dropFirst()
            }
            out += content
            out += [13, 10]
            if hasNewline { line += 1 }
            if out.count > Self.maxStringSize { throw error("string is too long") }
        }
        throw error("end of file before end of multi-line string started at line \(startLine)")
    }
}

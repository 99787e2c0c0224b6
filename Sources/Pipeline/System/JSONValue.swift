/// A JSON value (RFC 8259) read from bytes, for the replies of programs mdad asks (rspamd's
/// `/checkv2`). Without Foundation: the library targets stay free of it. Bounded: the nesting
/// depth and the input size are limited, so a hostile peer cannot make it recurse or grow
/// without end.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in the order written; a repeated name keeps both (lookups take the first).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Where and why the text is not JSON.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let offset: Int
        public let expected: String
        public var description: String { "JSON: at byte \(offset): expected \(expected)" }
    }

    /// The deepest nesting of arrays and objects accepted.
    public static let maxDepth = 64

    /// Parses one JSON text (surrounding white space allowed, nothing else after it).
    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        let v = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw SyntaxError(offset: reader.at, expected: "the end of the text") }
        return v
    }

    /// An object's member, nil when this is no object or has no such member.
    public subscript(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == name }?.1
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? { if case .number(let n) = self { return n }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var members: [(String, JSONValue)]? { if case .object(let m) = self { return m }; return nil }

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        func fail(_ expected: String) -> SyntaxError { SyntaxError(offset: at, expected: expected) }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard at < bytes.count else { throw fail("a value") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                guard depth < JSONValue.maxDepth else { throw fail("nesting at most \(JSONValue.maxDepth) deep") }
                at += 1
                var members: [(String, JSONValue)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("a member name in quotes") }
                    let name = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("\":\"") }
                    at += 1
                    skipSpace()
                    let member = try value(depth: depth + 1)
                    members.append((name, member))
                    skipSpace()
                    guard at < bytes.count else { throw fail("\",\" or \"}\"") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    guard bytes[at] == UInt8(ascii: "}") else { throw fail("\",\" or \"}\"") }
                    at += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                guard depth < JSONValue.maxDepth else { throw fail("nesting at most \(JSONValue.maxDepth) deep") }
                at += 1
                var items: [JSONValue] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    skipSpace()
                    let item = try value(depth: depth + 1)
                    items.append(item)
                    skipSpace()
                    guard at < bytes.count else { throw fail("\",\" or \"]\"") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    guard bytes[at] == UInt8(ascii: "]") else { throw fail("\",\" or \"]\"") }
                    at += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { throw fail(word) }
            at += w.count
        }

        mutating func number() throws(SyntaxError) -> Double {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            var digits = 0
            while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1; digits += 1 }
            guard digits > 0 else { at = start; throw fail("a value") }
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                var fraction = 0
                while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1; fraction += 1 }
                guard fraction > 0 else { throw fail("a digit after \".\"") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                var exponent = 0
                while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1; exponent += 1 }
                guard exponent > 0 else { throw fail("an exponent") }
            }
            guard let d = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else { throw fail("a number") }
            return d
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("four hex digits") }
            var v: UInt32 = 0
            for b in bytes[at..<(at + 4)] {
                let d: UInt32
                switch b {
                case 0x30...0x39: d = UInt32(b - 0x30)
                case 0x41...0x46: d = UInt32(b - 0x41 + 10)
                case 0x61...0x66: d = UInt32(b - 0x61 + 10)
                default: throw fail("four hex digits")
                }
                v = v * 16 + d
            }
            at += 4
            return v
        }

        /// A string from its opening quote; invalid UTF-8 and lone surrogates become U+FFFD.
        mutating func string() throws(SyntaxError) -> String {
            at += 1
            var out: [UInt8] = []
            while true {
                guard at < bytes.count else { throw fail("the closing quote") }
                let b = bytes[at]
                if b == UInt8(ascii: "\"") { at += 1; return String(decoding: out, as: UTF8.self) }
                guard b >= 0x20 else { throw fail("no control character in a string") }
                guard b == UInt8(ascii: "\\") else { out.append(b); at += 1; continue }
                at += 1
                guard at < bytes.count else { throw fail("an escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), at + 6 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                        let save = at
                        at += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            at = save
                        }
                    }
                    out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                default: throw fail("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)")
                }
            }
        }
    }
}

/// RFC 2047 encoded words (`=?charset?B?…?=`, `=?charset?Q?…?=`) in header text.
///
/// Decoding is lenient in the ways mail needs and strict where leniency would invent text:
/// - a word that does not parse (unknown encoding, a '?' missing) is left as it is;
/// - blanks between two adjacent encoded words are dropped (RFC 2047 section 6.2: "any
///   'linear-white-space' that separates a pair of adjacent 'encoded-word's is ignored"),
///   and adjacent words in the same charset are joined before conversion, so a multi-byte
///   character split across two words comes out whole;
/// - words glued to other text (`abc=?utf-8?q?x?=`) are decoded too, although section 5
///   says they must be delimited by blanks, because senders write them and every reader
///   decodes them;
/// - raw 8-bit bytes outside the words are taken as UTF-8 when valid, else windows-1252.
public enum EncodedWord {
    /// The longest encoded word looked at; RFC 2047 section 2 allows 75 characters, real mail
    /// exceeds that, and a bound keeps a hostile header linear.
    static let maxWordLength = 4096

    /// Decodes header text (an unfolded field value).
    public static func decode(_ text: String) -> String { decode(Array(text.utf8)) }

    /// Decodes the value of a header field: line breaks of folding removed, blanks trimmed.
    public static func decode(_ field: HeaderField) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(field.rawValue.count)
        for b in field.rawValue where b != 10 && b != 13 { bytes.append(b) }
        return decode(bytes).trimmingWhitespace()
    }

    /// Decodes header bytes.
    public static func decode(_ bytes: [UInt8]) -> String {
        guard containsWordStart(bytes) else { return Charset.lenient(bytes) }
        var out = ""
        var literal: [UInt8] = []       // text between words, not yet converted
        var pending: [UInt8] = []       // decoded bytes of adjacent words in one charset
        var pendingCharset: String?
        var blanksAfterWord: [UInt8] = []   // blanks after the last word; dropped if a word follows
        var lastWasWord = false

        func flushPending() {
            if !pending.isEmpty || pendingCharset != nil {
                out += Charset.decode(pending, charset: pendingCharset)
            }
            pending = []
            pendingCharset = nil
        }
        func flushLiteral() {
            if !literal.isEmpty { out += Charset.lenient(literal) }
            literal = []
        }

        var i = 0
        let n = bytes.count
        while i < n {
            if bytes[i] == UInt8(ascii: "="), i + 1 < n, bytes[i + 1] == UInt8(ascii: "?"),
               let word = parseWord(bytes, at: i) {
                if lastWasWord {
                    // Blanks between two words vanish; words in another charset start anew.
                    blanksAfterWord = []
                    if word.charset.lowercased() != pendingCharset?.lowercased() { flushPending() }
                } else {
                    flushLiteral()
                }
                if pendingCharset == nil { pendingCharset = word.charset }
                pending += word.decoded
                lastWasWord = true
                i = word.end
                continue
            }
            let c = bytes[i]
            if lastWasWord {
                if c == 32 || c == 9 {
                    blanksAfterWord.append(c)
                    i += 1
                    continue
                }
                flushPending()
                literal += blanksAfterWord
                blanksAfterWord = []
                lastWasWord = false
            }
            literal.append(c)
            i += 1
        }
        flushPending()
        literal += blanksAfterWord
        flushLiteral()
        return out
    }

    static func containsWordStart(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "="), bytes[i + 1] == UInt8(ascii: "?") { return true }
            i += 1
        }
        return false
    }

    struct Word {
        var charset: String
        var decoded: [UInt8]
        var end: Int
    }

    /// `=?charset[*language]?encoding?text?=` at `start`, or nil.
    static func parseWord(_ b: [UInt8], at start: Int) -> Word? {
        let limit = min(b.count, start + maxWordLength)
        var i = start + 2
        let csStart = i
        while i < limit, b[i] != UInt8(ascii: "?") {
            if b[i] <= 32 || b[i] >= 127 { return nil }
            i += 1
        }
        guard i < limit, i > csStart else { return nil }
        let charset = String(decoding: b[csStart..<i], as: UTF8.self)
        i += 1
        guard i + 1 < limit, b[i + 1] == UInt8(ascii: "?") else { return nil }
        let enc = b[i] | 0x20
        guard enc == UInt8(ascii: "b") || enc == UInt8(ascii: "q") else { return nil }
        i += 2
        let textStart = i
        // The text ends at "?="; RFC 2047 section 2: encoded-text is "any printable ASCII
        // character other than '?' or SPACE".
        while i + 1 < limit, !(b[i] == UInt8(ascii: "?") && b[i + 1] == UInt8(ascii: "=")) {
            if b[i] == 32 || b[i] == 9 || b[i] == UInt8(ascii: "?") { return nil }
            i += 1
        }
        guard i + 1 < limit else { return nil }
        let text = b[textStart..<i]
        var decoded: [UInt8]
        if enc == UInt8(ascii: "b") {
            decoded = TransferDecoder.decode(Array(text), .base64)
        } else {
            // RFC 2047 section 4.2: "_" is a space, "=XX" a byte.
            decoded = []
            decoded.reserveCapacity(text.count)
            var k = text.startIndex
            while k < text.endIndex {
                let c = text[k]
                if c == UInt8(ascii: "_") {
                    decoded.append(32)
                } else if c == UInt8(ascii: "="), k + 2 < text.endIndex,
                          let h = TransferDecoder.hexValue(text[k + 1]), let l = TransferDecoder.hexValue(text[k + 2]) {
                    decoded.append(h << 4 | l)
                    k += 3
                    continue
                } else {
                    decoded.append(c)
                }
                k += 1
            }
        }
        return Word(charset: charset, decoded: decoded, end: i + 2)
    }
}

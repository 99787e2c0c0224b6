/// The Content-Transfer-Encoding of a MIME part (RFC 2045 section 6).
public enum ContentTransferEncoding: Sendable, Equatable {
    case sevenBit, eightBit, binary, base64, quotedPrintable
    /// A mechanism RFC 2045 does not define (`x-uuencode` …); the body is taken as it is.
    case other(String)

    /// Parses the field value; a missing or empty field is 7bit (RFC 2045 section 6.1).
    public init(_ value: String?) {
        let v = (value ?? "").trimmingWhitespace().lowercased()
        // A comment may follow the mechanism; only the first token counts.
        let token = String(v.prefix { $0 != " " && $0 != "\t" && $0 != "(" && $0 != ";" })
        switch token {
        case "", "7bit": self = .sevenBit
        case "8bit": self = .eightBit
        case "binary": self = .binary
        case "base64": self = .base64
        case "quoted-printable": self = .quotedPrintable
        default: self = .other(token)
        }
    }

    /// True for the encodings that leave the bytes as they are.
    public var isIdentity: Bool {
        switch self {
        case .base64, .quotedPrintable: return false
        default: return true
        }
    }
}

/// A streaming transfer decoder: fed the encoded body in chunks of any size, it appends the
/// decoded bytes to an output buffer and keeps only a few bytes of state between chunks, so a
/// body of any size (a 50 MB base64 line included) decodes in bounded memory.
public struct TransferDecoder: Sendable {
    let encoding: ContentTransferEncoding
    // base64: the bits of the current quantum.
    private var quantum: UInt32 = 0
    private var quantumLength = 0
    // quoted-printable: bytes held back because their meaning depends on what follows.
    private var pending: [UInt8] = []

    public init(_ encoding: ContentTransferEncoding) { self.encoding = encoding }

    /// Decodes one chunk.
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        switch encoding {
        case .base64: base64(chunk, into: &out)
        case .quotedPrintable: quotedPrintable(chunk, into: &out, final: false)
        default: out.append(contentsOf: chunk)
        }
    }

    /// Flushes what was held back at the end of the body.
    public mutating func finish(into out: inout [UInt8]) {
        switch encoding {
        case .base64:
            flushQuantum(into: &out)
        case .quotedPrintable:
            [UInt8]().withUnsafeBytes { quotedPrintable($0, into: &out, final: true) }
        default:
            break
        }
    }

    /// Decodes a whole buffer.
    public static func decode(_ bytes: [UInt8], _ encoding: ContentTransferEncoding) -> [UInt8] {
        var d = TransferDecoder(encoding)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        bytes.withUnsafeBytes { d.decode($0, into: &out) }
        d.finish(into: &out)
        return out
    }

    // MARK: base64

    static let base64Values: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    /// RFC 2045 section 6.8: "Any characters outside of the base64 alphabet are to be ignored
    /// in base64-encoded data." Padding ends a quantum; decoding goes on after it, because
    /// concatenated base64 blobs are common in broken mail.
    private mutating func base64(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        Self.base64Values.withUnsafeBufferPointer { table in
            for c in chunk {
                let v = table[Int(c)]
                if v == 0xFF {
                    if c == UInt8(ascii: "=") { flushQuantum(into: &out) }
                    continue
                }
                quantum = quantum << 6 | UInt32(v)
                quantumLength += 1
                if quantumLength == 4 {
                    out.append(UInt8(truncatingIfNeeded: quantum >> 16))
                    out.append(UInt8(truncatingIfNeeded: quantum >> 8))
                    out.append(UInt8(truncatingIfNeeded: quantum))
                    quantum = 0
                    quantumLength = 0
                }
            }
        }
    }

    private mutating func flushQuantum(into out: inout [UInt8]) {
        // Two characters carry one byte, three carry two; a lone character carries none.
        if quantumLength == 2 {
            out.append(UInt8(truncatingIfNeeded: quantum >> 4))
        } else if quantumLength == 3 {
            out.append(UInt8(truncatingIfNeeded: quantum >> 10))
            out.append(UInt8(truncatingIfNeeded: quantum >> 2))
        }
        quantum = 0
        quantumLength = 0
    }

    // MARK: quoted-printable

    /// `MARKER XY` (two hex digits, either case) as the byte XY; anything else as it is. With
    /// `%`, RFC 2231 values and URL escapes; with `+`, RFC 3461 xtext.
    public static func decodeHexEscapes(_ v: ArraySlice<UInt8>, marker: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(v.count)
        var i = v.startIndex
        while i < v.endIndex {
            if v[i] == marker, i + 2 < v.endIndex, let h = hexValue(v[i + 1]), let l = hexValue(v[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(v[i])
                i += 1
            }
        }
        return out
    }

    /// The same for text; the result is read as UTF-8.
    public static func decodeHexEscapes(_ text: String, marker: Character) -> String {
        String(decoding: decodeHexEscapes(Array(text.utf8)[...], marker: marker.asciiValue ?? 0), as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10   // lenient: RFC 2045 says upper case
        default: return nil
        }
    }

    /// RFC 2045 section 6.7, leniently: `=XY` (either case) is a byte, `=` before the end of
    /// a line (trailing blanks allowed) is a soft line break, and any other `=` is kept as it
    /// is ("a robust implementation might ... leave the sequence as is"). Blanks at the end of
    /// a line are dropped: rule 3 says they "must be deleted, as [they] will necessarily have
    /// been added by intermediate transport agents".
    private mutating func quotedPrintable(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8], final: Bool) {
        // Work on what was held back plus this chunk. Only a short tail (an '=' and what may
        // complete it, or trailing blanks) is ever held back, except for a very long run of
        // blanks, which is capped.
        if pending.isEmpty {
            pending = quotedPrintableRun(chunk, into: &out, final: final)
        } else {
            var buf = pending
            buf.append(contentsOf: chunk)
            pending = buf.withUnsafeBytes { quotedPrintableRun($0, into: &out, final: final) }
        }
    }

    /// Decodes `buf`; returns the tail to hold back until more input comes.
    private func quotedPrintableRun(_ buf: UnsafeRawBufferPointer, into out: inout [UInt8], final: Bool) -> [UInt8] {
        var i = 0
        let n = buf.count
        out.reserveCapacity(out.count + n)
        while i < n {
            // Copy the run up to the next '=' or blank in one go: most bytes are plain text.
            var j = i
            while j < n, buf[j] != UInt8(ascii: "="), buf[j] != 32, buf[j] != 9 { j += 1 }
            if j > i {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[i..<j]))
                i = j
                if i == n { break }
            }
            let c = buf[i]
            if c == UInt8(ascii: "=") {
                // Find the end of the blanks after '='.
                var j = i + 1
                while j < n, buf[j] == 32 || buf[j] == 9 { j += 1 }
                if j < n, buf[j] == 10 || buf[j] == 13 {
                    // Soft line break: skip to after the line ending.
                    if buf[j] == 13 {
                        if j + 1 < n { i = buf[j + 1] == 10 ? j + 2 : j + 1; continue }
                        if !final { return Array(buf[i...]) }
                        i = j + 1; continue
                    }
                    i = j + 1; continue
                }
                if j == n && !final && j - i < 1024 { return Array(buf[i...]) }
                if j == n && final { return [] } // '=' and blanks at the very end: a soft break
                if i + 2 < n {
                    if let h = Self.hexValue(buf[i + 1]), let l = Self.hexValue(buf[i + 2]) {
                        out.append(h << 4 | l)
                        i += 3
                        continue
                    }
                } else if !final {
                    return Array(buf[i...])
                }
                out.append(c)
                i += 1
                continue
            }
            if c == 32 || c == 9 {
                var j = i + 1
                while j < n, buf[j] == 32 || buf[j] == 9 { j += 1 }
                if j == n {
                    if !final && j - i < 1024 { return Array(buf[i...]) }
                    if final { return [] }
                } else if buf[j] == 10 || buf[j] == 13 {
                    i = j   // trailing blanks are transport padding
                    continue
                }
                out.append(contentsOf: buf[i..<j])
                i = j
                continue
            }
            out.append(c)
            i += 1
        }
        return []
    }
}

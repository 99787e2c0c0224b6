#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversion of text in a declared MIME charset (RFC 2046 section 4.1.2) to Swift strings.
///
/// The converter is glibc's iconv: it ships with the C library, knows every charset mail uses,
/// and loads its conversion modules (gconv) only when a conversion is first opened, so a
/// delivery that never converts a charset pays nothing at start-up. US-ASCII, UTF-8,
/// ISO-8859-1 and windows-1252 are decoded in Swift without iconv: they are most of the mail.
///
/// Mail lies about its charset. The conversion never fails: a missing or unknown charset, or
/// bytes that are not valid in the declared one, fall back to UTF-8 when the bytes are valid
/// UTF-8 and to windows-1252 otherwise; bytes a multi-byte converter rejects become U+FFFD.
public enum Charset {
    /// Decodes `bytes` declared as `charset` (nil when the part or word declared none).
    public static func decode(_ bytes: [UInt8], charset: String?) -> String {
        let name = canonicalName(charset)
        switch name {
        case nil, "US-ASCII":
            return lenient(bytes)
        case "UTF-8":
            if let s = validUTF8(bytes) { return s }
            // Declared UTF-8 but not valid: when no byte sequence in it is UTF-8 at all, it
            // is 8-bit text from a client that put the wrong label on it.
            return hasMultiByteUTF8(bytes) ? String(decoding: bytes, as: UTF8.self) : windows1252(bytes)
        case "WINDOWS-1252":
            return windows1252(bytes)
        default:
            if bytes.allSatisfy({ $0 < 0x80 }), !isStatefulOrWide(name!) {
                return String(decoding: bytes, as: UTF8.self)
            }
            return iconvDecode(bytes, from: name!) ?? lenient(bytes)
        }
    }

    /// Text whose charset is unknown: UTF-8 when it is valid UTF-8, otherwise windows-1252
    /// (the charset browsers assume for unlabelled Western text, a superset of ISO-8859-1's
    /// printable characters).
    public static func lenient(_ bytes: [UInt8]) -> String {
        validUTF8(bytes) ?? windows1252(bytes)
    }

    /// The iconv name for a MIME charset label, or nil for none / US-ASCII-like labels.
    ///
    /// Labels follow the WHATWG Encoding Standard's choice of supersets where senders commonly
    /// use the smaller name for the larger repertoire: ISO-8859-1 and US-ASCII are decoded as
    /// windows-1252, GB2312 and GBK as GB18030, Shift_JIS as Microsoft's CP932 (glibc's
    /// SHIFT_JIS would turn 0x5C into a yen sign and break every path and URL in the text),
    /// KS_C_5601-1987 and EUC-KR as CP949.
    static func canonicalName(_ label: String?) -> String? {
        guard var l = label?.trimmingWhitespace().lowercased(), !l.isEmpty else { return nil }
        if l.hasPrefix("\""), l.hasSuffix("\""), l.count >= 2 { l = String(l.dropFirst().dropLast()) }
        // RFC 2231 section 5: a language may follow the charset after '*'.
        if let star = l.firstIndex(of: "*") { l = String(l[..<star]) }
        switch l {
        case "us-ascii", "ascii", "ansi_x3.4-1968", "us", "default", "unknown-8bit", "x-unknown", "unknown":
            return nil
        case "utf-8", "utf8", "x-utf-8", "unicode-1-1-utf-8":
            return "UTF-8"
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819",
             "windows-1252", "cp1252", "x-cp1252":
            return "WINDOWS-1252"
        case "gb2312", "gbk", "x-gbk", "cp936", "euc-cn", "csgb2312", "gb18030", "chinese":
            return "GB18030"
        case "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932":
            return "CP932"
        case "ks_c_5601-1987", "euc-kr", "ks_c_5601", "korean", "cp949", "windows-949":
            return "CP949"
        case "iso-8859-8-i":
            return "ISO-8859-8"
        case "utf-16", "utf-16le", "utf-16be", "utf-32", "utf-32le", "utf-32be", "ucs-2":
            return l.uppercased()
        default:
            // Names iconv knows as they are (ISO-8859-x, windows-125x, KOI8-R, Big5, EUC-JP,
            // ISO-2022-JP …). Anything else fails in iconv_open and falls back.
            guard l.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") }) else { return "X-INVALID" }
            return l.uppercased()
        }
    }

    /// Charsets where ASCII bytes do not stand for ASCII characters.
    static func isStatefulOrWide(_ name: String) -> Bool {
        name.hasPrefix("UTF-16") || name.hasPrefix("UTF-32") || name.hasPrefix("UCS")
            || name.hasPrefix("ISO-2022") || name == "UTF-7" || name == "HZ-GB-2312"
    }

    static func validUTF8(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self)
    }

    /// True when `bytes` hold at least one well-formed multi-byte UTF-8 sequence.
    static func hasMultiByteUTF8(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1
            if n > 1, i + n <= bytes.count, (1..<n).allSatisfy({ bytes[i + $0] & 0xC0 == 0x80 }) { return true }
            i += 1
        }
        return false
    }

    /// windows-1252's 0x80–0x9F; the rest of the 8-bit range is ISO-8859-1. Undefined code
    /// points map to the C1 control of the same value, as the WHATWG index does.
    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    static func windows1252(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        s.reserveCapacity(bytes.count)
        for b in bytes {
            let v: UInt32 = b >= 0x80 && b < 0xA0 ? cp1252High[Int(b) - 0x80] : UInt32(b)
            s.append(Unicode.Scalar(v)!)
        }
        return String(s)
    }

    /// Converts with iconv; nil when iconv does not know the charset.
    static func iconvDecode(_ bytes: [UInt8], from name: String) -> String? {
        let cd = iconv_open("UTF-8", name)
        guard let cd, Int(bitPattern: UnsafeRawPointer(cd)) != -1 else { return nil }
        defer { iconv_close(cd) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2 + 16)
        var chunk = [UInt8](repeating: 0, count: 16_384)
        var input = bytes
        input.withUnsafeMutableBufferPointer { inBuf in
            var inPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuf.baseAddress)?
                .assumingMemoryBound(to: CChar.self)
            var inLeft = inBuf.count
            chunk.withUnsafeMutableBufferPointer { outBuf in
                let outBase = UnsafeMutableRawPointer(outBuf.baseAddress!).assumingMemoryBound(to: CChar.self)
                while true {
                    var outPtr: UnsafeMutablePointer<CChar>? = outBase
                    var outLeft = outBuf.count
                    let r = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    let produced = outBuf.count - outLeft
                    out.append(contentsOf: UnsafeRawBufferPointer(start: outBuf.baseAddress, count: produced))
                    if r != -1 {
                        if inLeft == 0 { break }
                        continue
                    }
                    let err = currentErrno()
                    if err == E2BIG { continue }
                    // EILSEQ: a byte the charset does not allow; EINVAL: a sequence cut off at
                    // the end. Either way the reader gets U+FFFD and the text goes on.
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    if err == EILSEQ, inLeft > 0 {
                        inPtr = inPtr! + 1
                        inLeft -= 1
                        continue
                    }
                    break
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

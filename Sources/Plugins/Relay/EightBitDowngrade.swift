import Pipeline

/// The 7-bit downgrade for a server that does not announce 8BITMIME (RFC 6152 section 3), as
/// Postfix's smtp(8) does it (`disable_mime_output_conversion = no`): every MIME leaf part with
/// 8-bit bytes that is not already base64 or quoted-printable is re-encoded as
/// quoted-printable and its Content-Transfer-Encoding changed; a multipart or message/rfc822
/// declared 8bit or binary is declared 7bit. Header fields are left as they are (8-bit bytes in
/// a header stay: Postfix does not touch them either).
///
/// A message that cannot be converted — no MIME-Version (Postfix's "unlabeled" 8-bit mail), or
/// a MIME structure that does not parse — is sent as it is, as Postfix sends it, rather than
/// bounced.
public enum EightBitDowngrade {
    /// The converted message, or nil when it is to be sent unchanged.
    public static func convert(_ bytes: [UInt8]) -> [UInt8]? {
        guard let message = try? Message.parse(Spool(bytes: bytes)), message.header["MIME-Version"] != nil,
              let structure = try? MIMEStructure.parse(message) else { return nil }
        // Each change: replace bytes [from, to) with a new header section and maybe a new body.
        var edits: [(from: Int, to: Int, bytes: [UInt8])] = []
        for part in structure.parts {
            let body = Array(bytes[min(part.bodyOffset, bytes.count)..<min(part.bodyEnd, bytes.count)])
            let headerEnd = part.bodyOffset
            if part.isLeaf {
                guard part.transferEncoding.isIdentity, body.contains(where: { $0 >= 0x80 }) else { continue }
                let header = rewriteEncoding(Array(bytes[part.headerOffset..<headerEnd]), to: "quoted-printable")
                edits.append((part.headerOffset, part.bodyEnd, header + quotedPrintable(body)))
            } else if part.transferEncoding == .eightBit || part.transferEncoding == .binary {
                edits.append((part.headerOffset, headerEnd, rewriteEncoding(Array(bytes[part.headerOffset..<headerEnd]), to: "7bit")))
            }
        }
        guard !edits.isEmpty else { return nil }
        // Parts are depth-first and a leaf's range never contains another edited range, so the
        // edits are disjoint and in order.
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 8)
        var at = 0
        for e in edits where e.from >= at {
            out += bytes[at..<e.from]
            out += e.bytes
            at = e.to
        }
        out += bytes[at...]
        return out
    }

    /// A part's header section (up to and including its empty line) with every
    /// Content-Transfer-Encoding field replaced by one naming `encoding`, added just before the
    /// empty line; the other fields stay byte for byte.
    static func rewriteEncoding(_ header: [UInt8], to encoding: String) -> [UInt8] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for i in header.indices where header[i] == 10 {
            lines.append(header[start...i])
            start = i + 1
        }
        if start < header.count { lines.append(header[start...]) }
        var out: [UInt8] = []
        var skipping = false
        var separator: ArraySlice<UInt8> = []
        let name = Array("content-transfer-encoding".utf8)
        for line in lines {
            let isBlank = line.allSatisfy { $0 == 13 || $0 == 10 }
            if isBlank { separator = line; break }
            if line.first == 32 || line.first == 9 {
                if !skipping { out += line }
                continue
            }
            let colon = line.firstIndex(of: 58) ?? line.endIndex
            let field = line[line.startIndex..<colon].filter { $0 != 32 && $0 != 9 }.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            skipping = field == name
            if !skipping { out += line }
        }
        let eol: [UInt8] = separator.first == 13 || header.contains(13) ? [13, 10] : [10]
        out += Array("Content-Transfer-Encoding: \(encoding)".utf8) + eol
        out += separator.isEmpty ? eol : Array(separator)
        return out
    }

    /// RFC 2045 section 6.7: lines of at most 76 characters with soft breaks, `=XX` for
    /// 8-bit bytes, `=` and controls, and for white space at the end of a line. Line ends of
    /// the body (CRLF or LF) stay hard line breaks, written as CRLF.
    static func quotedPrintable(_ body: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(body.count + body.count / 4)
        var lineLength = 0
        var i = 0
        while i < body.count {
            let b = body[i]
            if b == 10 || (b == 13 && i + 1 < body.count && body[i + 1] == 10) {
                out += [13, 10]
                lineLength = 0
                i += b == 13 ? 2 : 1
                continue
            }
            let atLineEnd = i + 1 == body.count || body[i + 1] == 10 || (body[i + 1] == 13 && i + 2 < body.count && body[i + 2] == 10)
            let literal = (b >= 33 && b <= 126 && b != 61) || ((b == 32 || b == 9) && !atLineEnd)
            let token: [UInt8] = literal ? [b] : [61, hex[Int(b >> 4)], hex[Int(b & 15)]]
            if lineLength + token.count > 75 {
                out += [61, 13, 10]
                lineLength = 0
            }
            out += token
            lineLength += token.count
            i += 1
        }
        return out
    }
}

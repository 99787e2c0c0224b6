import Pipeline

/// A message as SpamAssassin's rules see it: header values decoded or raw, the rendered body
/// split into lines (`body`), the decoded parts (`rawbody`), the whole message (`full`) and
/// the URIs (`uri`). Built once per message; every rule reads from it.
struct SpamMessage {
    struct Field {
        /// Lower-cased name.
        let key: String
        let name: String
        /// SpamAssassin's `raw_header`: the bytes after the colon, folds and final newline kept.
        let raw: [UInt8]
        /// SpamAssassin's `header`: unfolded, trimmed, RFC 2047 words decoded, UTF-8.
        let decoded: [UInt8]
    }

    /// How much of a message is rendered.
    struct Limits: Sendable {
        var textSize = 1 << 20
        var fullSize = 4 << 20
        var uriCount = 1_000
    }

    let fields: [Field]
    /// The header fields of every MIME part (the message's own included), for `mimeheader`.
    let partFields: [[Field]]
    let body: [[UInt8]]
    let rawBody: [[UInt8]]
    let full: [UInt8]
    let uris: [[UInt8]]
    let envelopeFrom: String?
    /// Facts eval rules read.
    let bodyTextLength: Int
    let pristineBodyLength: Int
    let missingHeaderSeparator: Bool
    let truncatedHeader: Bool
    /// MIMEEval's counts over every part: text/html, other text/*, base64, quoted-printable,
    /// attachments; and its flags.
    let htmlParts: Int
    let plainParts: Int
    let mimeFacts: [String: Int]
    /// The Bayes probability (0…1) when Bayes could classify the message; check_bayes reads it.
    var bayesProbability: Double?

    /// SpamAssassin's `MAX_BODY_LINE_LENGTH`.
    static let maxLineLength = 2048

    init(_ message: Message, envelopeFrom: String?, limits: Limits = Limits()) throws {
        let structure = try MIMEStructure.parse(message)
        fields = message.header.fields.map(Self.field)
        // MIMEHeader tests every part, the message itself included.
        partFields = structure.parts.map { $0.index == 0 ? message.header.fields.map(Self.field) : $0.header.fields.map(Self.field) }
        self.envelopeFrom = envelopeFrom ?? Self.envelopeFromHeaders(fields)
        missingHeaderSeparator = message.separator.isEmpty && message.bodySize > 0
        truncatedHeader = message.headerTruncated
        pristineBodyLength = message.bodySize
        var facts: [String: Int] = [:]
        var html = 0, otherText = 0
        for part in structure.parts {
            let type = part.contentType.mimeType
            let last = { (name: String) in (part.header.all(name).last?.value ?? "").lowercased() }
            let cte = last("Content-Transfer-Encoding"), cd = last("Content-Disposition")
            let charset = (part.contentType.charset ?? "").lowercased()
            if type == "text/html" { html += 1 } else if type.hasPrefix("text") { otherText += 1 }
            if cte.contains("base64") { facts["mime_base64_count", default: 0] += 1 }
            else if cte.contains("quoted-printable") { facts["mime_qp_count", default: 0] += 1 }
            if cd.contains("attachment") { facts["mime_attachment", default: 0] += 1 }
            let asciiNames = ["us-ascii", "ansi_x3.4-1968", "iso-ir-6", "ansi_x3.4-1986", "iso_646.irv:1991", "ascii", "iso646-us", "us", "ibm367", "cp367", "csascii"]
            if type.hasPrefix("text"), cte.contains("base64"), charset.isEmpty || asciiNames.contains(where: { charset.contains($0) }),
               !(cd.hasPrefix("attachment") || cd.hasPrefix("inline")) {
                facts["mime_base64_encoded_text"] = 1
            }
            if charset.hasPrefix("iso-"), charset.split(separator: "-").count >= 3,
               !(charset.hasPrefix("iso-8859-") || charset.hasPrefix("iso-2022-jp") || charset.hasPrefix("iso-2022-kr")) {
                facts["mime_bad_iso_charset"] = 1
            }
        }
        // mime_qp_count: escapes in quoted-printable parts that did not need escaping
        // (=3F for "?", =41 for "A" …), trailing =20/=09 not counted.
        var qpCount = 0
        for part in structure.parts where part.isLeaf && (part.header.all("Content-Transfer-Encoding").last?.value ?? "").lowercased() == "quoted-printable" {
            let raw = try structure.rawBody(of: part, limit: limits.textSize)
            for line in raw.split(separator: 10) {
                var n = 0
                var i = line.startIndex
                while i + 2 < line.endIndex {
                    if line[i] == UInt8(ascii: "="), Self.needlessEscape(line[i + 1], line[i + 2]) { n += 1; i += 3; continue }
                    i += 1
                }
                var end = line.endIndex
                while end > line.startIndex, Self.isSpace(line[end - 1]) { end -= 1 }
                var trailing = 0
                while end - line.startIndex >= 3, line[end - 3] == UInt8(ascii: "="), line[end - 2] == UInt8(ascii: "2") || line[end - 2] == UInt8(ascii: "0"),
                      (line[end - 2] == UInt8(ascii: "2") && line[end - 1] == UInt8(ascii: "0")) || (line[end - 2] == UInt8(ascii: "0") && line[end - 1] == UInt8(ascii: "9")) {
                    trailing += 1
                    end -= 3
                }
                qpCount += n > 0 ? n - trailing : 0
            }
        }
        if qpCount > 0 { facts["mime_qp_count"] = qpCount } else { facts["mime_qp_count"] = nil }
        mimeFacts = facts
        htmlParts = html
        plainParts = otherText

        // body: every leaf adds a line break before it; text/plain and text/html add their text.
        var text = ""
        var budget = limits.textSize
        var raw: [[UInt8]] = []
        var uris: [String] = []
        var seen: Set<String> = []
        func addURI(_ u: String) {
            guard uris.count < limits.uriCount, seen.insert(u).inserted else { return }
            uris.append(u)
        }
        for part in structure.parts where part.isLeaf {
            if !text.isEmpty { text += "\n" }
            let type = part.contentType
            let isText = type.type == "text" || type.type == "message"
            guard isText, type.mimeType != "text/calendar", budget > 0 else { continue }
            let (bytes, _) = try structure.decodedBody(of: part, limit: budget)
            budget -= bytes.count
            raw += Self.paragraphs(bytes)
            guard type.mimeType == "text/plain" || type.mimeType == "text/html" else { continue }
            let decoded = Charset.decode(bytes, charset: type.charset)
            if type.subtype == "html" {
                let (rendered, links) = HTMLText.convert(decoded, style: .spamAssassin)
                text += rendered
                for l in links where URIScanner.looksLikeURI(l) { addURI(l) }
            } else {
                text += decoded
            }
        }
        let collapsed = Self.collapseWhitespace(text)
        for u in URIScanner.scan(collapsed, limit: limits.uriCount) {
            addURI(u.lowercased().hasPrefix("www.") ? "http://" + u : u)
        }
        for u in URIList.mailAddresses(in: collapsed, limit: limits.uriCount) { addURI(u) }
        uris = URIList.canonicalize(uris, limit: limits.uriCount)
        let subject: [UInt8] = fields.last(where: { $0.key == "subject" }).map { $0.decoded + [10] } ?? [10]
        body = Self.shortLines(subject + Array(collapsed.utf8))
        bodyTextLength = collapsed.utf8.count
        rawBody = raw
        self.uris = uris.map { Array($0.utf8) }
        let start = message.envelopeFromLine?.count ?? 0
        full = try message.spool.read(offset: start, count: min(message.spool.size - start, limits.fullSize))
    }

    static let undecodedFields: Set<String> = ["received", "message-id", "resent-message-id", "date", "resent-date", "mime-version", "references", "in-reply-to"]

    static func field(_ f: HeaderField) -> Field {
        var raw: [UInt8] = []
        raw.reserveCapacity(f.rawValue.count)
        for b in f.rawValue where b != 13 { raw.append(b) }
        if raw.last != 10 { raw.append(10) }
        // header(): "\n[ \t]+" → " ", trimmed.
        var unfolded: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == 10, i + 1 < raw.count, raw[i + 1] == 32 || raw[i + 1] == 9 {
                unfolded.append(32)
                i += 1
                while i < raw.count, raw[i] == 32 || raw[i] == 9 { i += 1 }
                continue
            }
            unfolded.append(raw[i])
            i += 1
        }
        let trimmed = Array(unfolded.drop { isSpace($0) }.reversed().drop { isSpace($0) }.reversed()).filter { $0 != 10 }
        let key = f.name.lowercased()
        let decoded: String
        if undecodedFields.contains(key) || key.hasPrefix("list-") {
            decoded = Charset.lenient(trimmed)
        } else {
            decoded = EncodedWord.decode(trimmed)
        }
        return Field(key: key, name: f.name, raw: raw, decoded: Array(decoded.utf8))
    }

    /// `=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])`: MIMEEval's needless escape.
    static func needlessEscape(_ a: UInt8, _ b: UInt8) -> Bool {
        let hex = (b >= 48 && b <= 57) || (b >= 65 && b <= 70)
        switch a {
        case UInt8(ascii: "0"): return b == UInt8(ascii: "9")
        case UInt8(ascii: "3"): return (b >= 48 && b <= 57) || [65, 66, 67, 69, 70].contains(b)
        case UInt8(ascii: "2"), UInt8(ascii: "4"), UInt8(ascii: "5"), UInt8(ascii: "6"): return hex
        case UInt8(ascii: "7"): return hex && b != UInt8(ascii: "F")
        default: return false
        }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 || b == 11 || b == 12 }

    /// Where SpamAssassin finds the envelope sender when no MTA said it: Return-Path, then
    /// X-Envelope-From.
    static func envelopeFromHeaders(_ fields: [Field]) -> String? {
        for key in ["return-path", "x-envelope-from"] {
            if let f = fields.last(where: { $0.key == key }) {
                let v = String(decoding: f.decoded, as: UTF8.self)
                if let m = AddressList.parse(v).mailboxes.first { return m.address }
            }
        }
        return nil
    }

    /// Perl's `s/\n+\s*\n+/\x00/gs; s/\s+/ /gs; tr/\x00/\n/` on a character string: a blank
    /// line is a paragraph break, any other run of white space one space.
    static func collapseWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        // The current run of white space: whether it has blanks before its first newline,
        // how many newlines, and whether blanks follow its last newline.
        var inRun = false
        var lead = false
        var newlines = 0
        var trail = false
        func flush() {
            if newlines >= 2 {
                if lead { out.append(" ") }
                out.append("\n")
                if trail { out.append(" ") }
            } else {
                out.append(" ")
            }
            inRun = false
            lead = false
            trail = false
            newlines = 0
        }
        for c in text.unicodeScalars {
            if c.properties.isWhitespace {
                inRun = true
                if c == "\n" { newlines += 1; trail = false } else if newlines == 0 { lead = true } else { trail = true }
                continue
            }
            if inRun { flush() }
            out.append(c)
        }
        if inRun { flush() }
        return String(out)
    }

    /// `split_into_array_of_short_lines`: lines with their newline, none longer than 2048
    /// bytes (a longer line is cut after its last space before the limit).
    static func shortLines(_ text: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        func push(_ line: ArraySlice<UInt8>) {
            var l = line
            while l.count > maxLineLength {
                let window = l.prefix(maxLineLength + 1)
                var cut = (window.lastIndex(of: 32).map { $0 - l.startIndex + 1 }) ?? maxLineLength
                if cut == 0 { cut = maxLineLength }
                out.append(Array(l.prefix(cut)))
                l = l.dropFirst(cut)
            }
            out.append(Array(l))
        }
        for i in text.indices where text[i] == 10 {
            push(text[start...i])
            start = i + 1
        }
        if start < text.count { push(text[start...]) }
        return out
    }

    /// `split_into_array_of_short_paragraphs`: a part of up to 2048 bytes is one string;
    /// a longer one is cut at a newline, `>` or space between 2048 and 4096 bytes.
    static func paragraphs(_ text: [UInt8]) -> [[UInt8]] {
        let n = text.count
        guard n > maxLineLength else { return [text] }
        var out: [[UInt8]] = []
        var ofs = 0
        func find(_ b: UInt8, from: Int) -> Int? {
            var j = from
            while j < n { if text[j] == b { return j }; j += 1 }
            return nil
        }
        while n - ofs > 2 * maxLineLength {
            var j = -1
            for b: UInt8 in [10, UInt8(ascii: ">"), 32] {
                if let k = find(b, from: ofs + maxLineLength), k - ofs + 1 <= 2 * maxLineLength { j = k; break }
            }
            if j < 0 { j = ofs + maxLineLength }
            out.append(Array(text[ofs...j]))
            ofs = j + 1
        }
        if ofs < n { out.append(Array(text[ofs...])) }
        return out
    }
}

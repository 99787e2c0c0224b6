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
    /// Leaf parts of type text/html and text/plain.
    let htmlParts: Int
    let plainParts: Int

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
        htmlParts = structure.parts.filter { $0.isLeaf && $0.contentType.mimeType == "text/html" }.count
        plainParts = structure.parts.filter { $0.isLeaf && $0.contentType.mimeType == "text/plain" }.count

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

/// Decoding a part's body on demand, bounded.
extension MIMEStructure {
    /// The part's body with its transfer encoding undone, at most `limit` decoded bytes (the
    /// spool is read only as far as needed to produce them).
    public func decodedBody(of part: MIMEPart, limit: Int = 1 << 20) throws -> (bytes: [UInt8], truncated: Bool) {
        var decoder = TransferDecoder(part.transferEncoding)
        var out: [UInt8] = []
        var truncated = false
        try forEachBodyChunk(of: part) { chunk in
            decoder.decode(chunk, into: &out)
            if out.count >= limit { truncated = true; return false }
            return true
        }
        if !truncated { decoder.finish(into: &out) }
        if out.count > limit { out.removeLast(out.count - limit); truncated = true }
        return (out, truncated)
    }

    /// The part's body as text: transfer encoding undone, converted from its charset.
    public func text(of part: MIMEPart, limit: Int = 1 << 20) throws -> String {
        let (bytes, _) = try decodedBody(of: part, limit: limit)
        return Charset.decode(bytes, charset: part.contentType.charset)
    }

    /// The part's body bytes as they are in the spool, at most `limit`.
    public func rawBody(of part: MIMEPart, limit: Int = 1 << 20) throws -> [UInt8] {
        try spool.read(offset: part.bodyOffset, count: min(part.bodySize, limit))
    }

    /// Streams the decoded body (transfer encoding undone) in chunks, holding one chunk at a
    /// time, whatever the size of the part; `body` returns false to stop early.
    public func forEachDecodedChunk(of part: MIMEPart, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        var decoder = TransferDecoder(part.transferEncoding)
        var out: [UInt8] = []
        var stopped = false
        try forEachBodyChunk(of: part) { chunk in
            out.removeAll(keepingCapacity: true)
            decoder.decode(chunk, into: &out)
            stopped = try !out.withUnsafeBytes { try body($0) }
            return !stopped
        }
        guard !stopped else { return }
        out.removeAll(keepingCapacity: true)
        decoder.finish(into: &out)
        if !out.isEmpty { _ = try out.withUnsafeBytes { try body($0) } }
    }

    /// Streams the undecoded body in chunks; `body` returns false to stop early.
    public func forEachBodyChunk(of part: MIMEPart, chunkSize: Int = 1 << 16, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        var pos = part.bodyOffset
        while pos < part.bodyEnd {
            let chunk = try spool.read(offset: pos, count: min(chunkSize, part.bodyEnd - pos))
            if chunk.isEmpty { break }
            pos += chunk.count
            guard try chunk.withUnsafeBytes({ try body($0) }) else { break }
        }
    }
}

/// The views of a message that rules test (SpamAssassin's `header`, `body`, `rawbody` and
/// `uri` rules, Sieve's `header` and `body` tests, procmail's `H` and `B`): built once per
/// message, bounded in size, shared by every rule.
public struct MessageText: Sendable {
    /// How much text the views hold.
    public struct Limits: Sendable {
        /// Most bytes of decoded text in ``body`` (and of raw bytes in ``rawBody``).
        public var textSize: Int
        /// Most URIs collected.
        public var uriCount: Int

        public init(textSize: Int = 1 << 20, uriCount: Int = 1_000) {
            self.textSize = textSize
            self.uriCount = uriCount
        }
    }

    /// The decoded text of the text parts, in order: text/plain as it is, text/html rendered
    /// to text (``HTMLText``). Parts are separated by a line break.
    public let body: String
    /// The body as received (transfer encodings not undone), at most the size limit.
    public let rawBody: [UInt8]
    /// URIs found in text parts and in HTML links, without duplicates, in order of appearance.
    public let uris: [String]
    /// True when a limit cut the views short.
    public let truncated: Bool

    /// Builds the views of `message`, whose structure is `structure`. Text parts marked as
    /// attachments are left out of ``body``; every alternative of a multipart/alternative is
    /// in it (rules must see the HTML a reader sees as well as the plain text).
    public init(message: Message, structure: MIMEStructure, limits: Limits = Limits()) throws {
        var body = ""
        var bodyBytes = 0
        var uris: [String] = []
        var seen: Set<String> = []
        var truncated = false
        func addURI(_ u: String) {
            guard uris.count < limits.uriCount else { truncated = true; return }
            if seen.insert(u).inserted { uris.append(u) }
        }
        // Opaque parts (structure past a limit) count as text: what they hide must be seen.
        for part in structure.parts where part.isLeaf && (part.contentType.isText || part.isOpaque) && !part.isAttachment {
            let remaining = limits.textSize - bodyBytes
            guard remaining > 0 else { truncated = true; break }
            let (bytes, cut) = try structure.decodedBody(of: part, limit: remaining)
            truncated = truncated || cut
            let text = Charset.decode(bytes, charset: part.contentType.charset)
            var rendered = text
            if part.contentType.subtype == "html" {
                let (t, links) = HTMLText.convert(text)
                rendered = t
                for l in links where URIScanner.looksLikeURI(l) { addURI(l) }
            }
            // One more than the limit, so that a cut list is noticed.
            for u in URIScanner.scan(rendered, limit: limits.uriCount + 1) { addURI(u) }
            if !body.isEmpty { body += "\n" }
            body += rendered
            bodyBytes += bytes.count
        }
        let raw = try message.spool.read(offset: message.bodyOffset, count: min(message.bodySize, limits.textSize))
        self.body = body
        self.rawBody = raw
        self.uris = uris
        self.truncated = truncated || message.bodySize > limits.textSize
    }

    /// Every value of the named header field, unfolded and with RFC 2047 words decoded.
    public static func decodedHeader(_ name: String, in header: HeaderSection) -> [String] {
        header.all(name).map { EncodedWord.decode($0) }
    }
}

/// Finds URIs in plain text the way SpamAssassin's `uri` rules see them: schemes (`http`,
/// `https`, `ftp`, `mailto`) and bare `www.` host names.
public enum URIScanner {
    static let schemes = ["http://", "https://", "ftp://", "mailto:", "www."]

    /// The URIs in `text`, at most `limit`, trailing sentence punctuation removed.
    public static func scan(_ text: String, limit: Int = 1_000) -> [String] {
        var found: [String] = []
        let u = Array(text.utf8)
        var i = 0
        while i < u.count, found.count < limit {
            let c = u[i] | 0x20
            if c == UInt8(ascii: "h") || c == UInt8(ascii: "f") || c == UInt8(ascii: "m") || c == UInt8(ascii: "w"),
               i == 0 || !isAlphanumeric(u[i - 1]) {
                for s in schemes where matches(u, at: i, s) {
                    var j = i + s.utf8.count
                    while j < u.count, isURIByte(u[j]) { j += 1 }
                    // Trailing punctuation belongs to the sentence, not the URI.
                    while j > i + s.utf8.count, [UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ")"), UInt8(ascii: ";"),
                                                  UInt8(ascii: ":"), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: "'")].contains(u[j - 1]) { j -= 1 }
                    if j > i + s.utf8.count {
                        found.append(String(decoding: u[i..<j], as: UTF8.self))
                        i = j - 1
                    }
                    break
                }
            }
            i += 1
        }
        return found
    }

    static func matches(_ u: [UInt8], at i: Int, _ s: String) -> Bool {
        var k = i
        for b in s.utf8 {
            guard k < u.count, (u[k] | (u[k] >= 65 && u[k] <= 90 ? 0x20 : 0)) == b else { return false }
            k += 1
        }
        return true
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || ((b | 0x20) >= 97 && (b | 0x20) <= 122) || b >= 0x80
    }

    static func isURIByte(_ b: UInt8) -> Bool {
        b > 32 && b < 127 && b != UInt8(ascii: "<") && b != UInt8(ascii: ">") && b != UInt8(ascii: "\"")
            && b != UInt8(ascii: "`") && b != UInt8(ascii: "{") && b != UInt8(ascii: "}") || b >= 0x80
    }

    /// An HTML link worth reporting (not a fragment or a script).
    public static func looksLikeURI(_ s: String) -> Bool {
        let l = s.lowercased()
        return !l.hasPrefix("#") && !l.hasPrefix("javascript:") && !l.hasPrefix("data:") && !l.hasPrefix("cid:")
    }
}

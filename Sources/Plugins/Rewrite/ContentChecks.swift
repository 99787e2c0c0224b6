import Pipeline

/// header_checks, mime_header_checks, nested_header_checks and body_checks, as cleanup(8)
/// applies them: each header (its continuation lines kept, so a folded header is matched as
/// one logical line) or body line is looked up in the tables, and the first table that
/// answers gives the action.
///
/// Which tables see what, as Postfix's MIME reader decides it: the message's own headers go to
/// header_checks, except MIME-Version and Content-* which go to mime_header_checks; the headers
/// of a multipart body part go to mime_header_checks; the headers of an attached message
/// (message/rfc822) go to nested_header_checks (its MIME headers to mime_header_checks). Each
/// body part's lines go to body_checks, up to body_checks_size_limit bytes per part.
///
/// IGNORE, REPLACE and PREPEND on a body line or a part's header are carried out by
/// ``BodyEdits`` (the body is written anew only when one of them matched).
public struct ContentChecks: Sendable {
    public let header: TableList
    public let mime: TableList
    public let nested: TableList
    public let body: TableList
    public let bodySizeLimit: Int

    /// The longest body line looked up; longer lines are looked up in pieces, as Postfix splits
    /// them at line_length_limit.
    public static let lineLengthLimit = 2048

    public init(header: TableList = TableList([]), mime: TableList = TableList([]), nested: TableList = TableList([]),
                body: TableList = TableList([]), bodySizeLimit: Int = 51200) {
        self.header = header
        self.mime = mime
        self.nested = nested
        self.body = body
        self.bodySizeLimit = bodySizeLimit
    }

    public var isEmpty: Bool { header.isEmpty && mime.isEmpty && nested.isEmpty && body.isEmpty }

    /// Whether the body must be read at all.
    var needsBody: Bool { !(mime.isEmpty && nested.isEmpty && body.isEmpty) }

    /// What one check found: the action, what it was matched against, and where.
    public struct Event: Sendable, Equatable {
        /// "header" or "body", as Postfix's log line says.
        public var place: String
        /// The header or line, unfolded, as the log shows it.
        public var text: String
        public var action: CheckAction
        /// Where the line or part header is in the spool (its line ending included); nil for
        /// the message's own headers.
        public var range: Range<Int>? = nil
        /// Whether it is a header (REPLACE and PREPEND text must then be a header too).
        public var isHeader = true
    }

    static func isMIMEHeader(_ name: String) -> Bool {
        let n = name.lowercased()
        return n == "mime-version" || n.hasPrefix("content-")
    }

    /// The header's text as the tables see it: CR dropped, the final line break dropped,
    /// inner line breaks kept (`Subject: a\n\tb`).
    static func matchText(_ raw: some Collection<UInt8>) -> String {
        var bytes = raw.filter { $0 != 13 }
        while bytes.last == 10 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Looks up one of the message's own headers.
    public func checkPrimary(_ field: HeaderField) throws(TableError) -> Event? {
        let tables = Self.isMIMEHeader(field.name) ? mime : header
        return try check(tables, Self.matchText(field.raw), place: "header")
    }

    func check(_ tables: TableList, _ text: String, place: String) throws(TableError) -> Event? {
        guard !tables.isEmpty, let answer = try tables.lookup(text) else { return nil }
        return Event(place: place, text: text.replacingNewlines(), action: CheckAction.parse(answer))
    }

    /// Looks up the headers of every body part and attached message, and the body lines, in
    /// message order; `visit` sees each action found and returns false to stop.
    public func checkBody(_ message: Message, visit: (Event) -> Bool) throws {
        guard needsBody else { return }
        let structure = try MIMEStructure.parse(message)
        for part in structure.parts {
            if part.index != 0 {
                let inMessage = part.parent.map { structure.parts[$0].contentType.isMessage } ?? false
                var offset = part.headerOffset
                for field in part.header.fields {
                    let tables = Self.isMIMEHeader(field.name) || !inMessage ? mime : nested
                    if var e = try check(tables, Self.matchText(field.raw), place: "header") {
                        e.range = offset..<(offset + field.raw.count)
                        if !visit(e) { return }
                    }
                    offset += field.raw.count
                }
            }
            guard part.isLeaf, !body.isEmpty else { continue }
            let count = min(part.bodySize, bodySizeLimit)
            guard count > 0 else { continue }
            let bytes = try message.spool.read(offset: part.bodyOffset, count: count)
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != 10, end - start < Self.lineLengthLimit { end += 1 }
                var line = bytes[start..<end]
                if line.last == 13 { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                let next = end < bytes.count && bytes[end] == 10 ? end + 1 : end
                if var e = try check(body, text, place: "body") {
                    var upper = part.bodyOffset + next
                    // The last line of a part: its line break belongs to the boundary that
                    // follows (RFC 2046 section 5.1.1), but it ends the line all the same.
                    if next == bytes.count, count == part.bodySize, bytes.last != 10 {
                        let after = try message.spool.read(offset: upper, count: min(2, message.spool.size - upper))
                        if after.first == 10 { upper += 1 } else if after == [13, 10] { upper += 2 }
                    }
                    e.range = (part.bodyOffset + start)..<upper
                    e.isHeader = false
                    if !visit(e) { return }
                }
                start = next
            }
        }
    }
}

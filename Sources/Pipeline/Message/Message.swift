/// A message over its spool: the parsed header section (editable) and the body (never loaded
/// whole, read from the spool when written out).
///
/// Parsing never refuses mail. CRLF and bare LF, folded and duplicate fields, 8-bit and NUL
/// bytes, a message with no body or with no blank line after the header: each is taken as it
/// is, and every byte of the input comes out again.
public struct Message: Sendable {
    public let spool: Spool
    public var header: HeaderSection
    /// The mbox `From sender date` line that preceded the message, if any (Postfix's local(8)
    /// writes one before the message it gives to `mailbox_command`). It is not part of the message.
    public let envelopeFromLine: [UInt8]?
    /// The empty line that ended the header section as received ("\n" or "\r\n"), or empty when
    /// the input had none (a message with no body, or a body that began with a non-header line).
    public let separator: [UInt8]
    /// Where the body starts in the spool.
    public let bodyOffset: Int
    /// True when the header section was cut short by a limit; the remaining bytes are body.
    public let headerTruncated: Bool
    /// Written byte for byte: no empty line is added after a header section that lacks one
    /// (procmail stores a filter's output as it is; Postfix's cleanup would add it).
    public var verbatim = false

    public var bodySize: Int { spool.size - bodyOffset }

    /// The size of the message as received, without the mbox `From ` line.
    public var receivedSize: Int { spool.size - (envelopeFromLine?.count ?? 0) }

    public struct Limits: Sendable {
        /// The largest single field kept as a header (Postfix's header_size_limit).
        public var fieldSize: Int
        /// The most bytes read as header section before the rest is treated as body.
        public var sectionSize: Int
        /// The most fields in the header section.
        public var fieldCount: Int

        public init(fieldSize: Int = 102_400, sectionSize: Int = 1 << 20, fieldCount: Int = 10_000) {
            self.fieldSize = fieldSize
            self.sectionSize = sectionSize
            self.fieldCount = fieldCount
        }
    }

    init(spool: Spool, header: HeaderSection, envelopeFromLine: [UInt8]?, separator: [UInt8],
         bodyOffset: Int, headerTruncated: Bool) {
        self.spool = spool
        self.header = header
        self.envelopeFromLine = envelopeFromLine
        self.separator = separator
        self.bodyOffset = bodyOffset
        self.headerTruncated = headerTruncated
    }

    /// Splits a spooled message into header section and body.
    public static func parse(_ spool: Spool, limits: Limits = Limits()) throws -> Message {
        let prefixLength = min(spool.size, limits.sectionSize + 1024)
        let buf = try spool.read(offset: 0, count: prefixLength)
        let wholeMessage = buf.count == spool.size
        var pos = 0
        var fromLine: [UInt8]?

        func lineEnd(from start: Int) -> Int? {
            var i = start
            while i < buf.count {
                if buf[i] == 10 { return i + 1 }
                i += 1
            }
            return wholeMessage ? buf.count : nil
        }

        // The mbox envelope line: "From " at the very start.
        if buf.starts(with: Array("From ".utf8)), let end = lineEnd(from: 0) {
            fromLine = Array(buf[0..<end])
            pos = end
        }

        var fields: [HeaderField] = []
        var fieldStart = -1
        var fieldNameEnd = 0
        var fieldValueStart = 0
        var separator: [UInt8] = []
        var truncated = false

        func closeField(at end: Int) {
            guard fieldStart >= 0 else { return }
            let raw = Array(buf[fieldStart..<end])
            let name = String(decoding: buf[fieldStart..<fieldNameEnd], as: UTF8.self)
            fields.append(HeaderField(name: name, raw: raw, valueStart: fieldValueStart - fieldStart))
            fieldStart = -1
        }

        scan: while pos < buf.count {
            guard let end = lineEnd(from: pos) else {
                // The header section is longer than the limit: the rest is body.
                truncated = true
                break
            }
            if pos >= limits.sectionSize { truncated = true; break }
            let first = buf[pos]
            // The empty line that ends the header section.
            if first == 10 || (first == 13 && end == pos + 2 && buf[pos + 1] == 10) {
                closeField(at: pos)
                separator = Array(buf[pos..<end])
                pos = end
                break scan
            }
            // A continuation line belongs to the field above it.
            if first == 32 || first == 9 {
                guard fieldStart >= 0 else { break scan }   // no field to continue: body starts here
                if end - fieldStart > limits.fieldSize {
                    truncated = true
                    break scan
                }
                pos = end
                continue
            }
            // A new field: name of printable ASCII except ':', optional blanks, then ':'.
            var i = pos
            while i < end, buf[i] > 32, buf[i] < 127, buf[i] != 58 { i += 1 }
            let nameEnd = i
            while i < end, buf[i] == 32 || buf[i] == 9 { i += 1 }
            guard nameEnd > pos, i < end, buf[i] == 58 else { break scan } // not a header: body starts here
            closeField(at: pos)
            if fields.count >= limits.fieldCount || end - pos > limits.fieldSize {
                truncated = true
                break scan
            }
            fieldStart = pos
            fieldNameEnd = nameEnd
            fieldValueStart = i + 1
            pos = end
        }
        if truncated {
            // Whatever follows the last complete field is body, byte for byte.
            if fieldStart >= 0 { pos = fieldStart; fieldStart = -1 }
        } else {
            closeField(at: pos)
        }
        return Message(spool: spool, header: HeaderSection(fields), envelopeFromLine: fromLine,
                       separator: separator, bodyOffset: pos, headerTruncated: truncated)
    }

    /// Writes the message: `prepend` fields, the header section, the separator and the body.
    ///
    /// When the input had no empty line after its header section but has a body, one is
    /// added, as Postfix's cleanup(8) does, so the body cannot be read as header (unless the
    /// message is `verbatim`).
    public func write(prepending prepend: [HeaderField] = [], to sink: inout some ByteSink) throws {
        var lastByte: UInt8?
        for f in prepend {
            try sink.write(f.raw)
            lastByte = f.raw.last ?? lastByte
        }
        for f in header.fields {
            try sink.write(f.raw)
            lastByte = f.raw.last ?? lastByte
        }
        if !separator.isEmpty {
            try sink.write(separator)
        } else if bodySize > 0, !verbatim, let last = lastByte {
            if last != 10 { try sink.write([10]) }
            try sink.write([10])
        }
        try spool.forEachChunk(from: bodyOffset) { try sink.write($0) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The MIME structure of a spooled message (RFC 2045, RFC 2046): every part with the offsets
/// of its header and body, found in one streaming pass over the spool.
///
/// The scan holds one line prefix and one part header at a time, never a body, so memory does
/// not grow with the message. Everything is bounded: nesting depth, part count, part header
/// size, boundary length. Structure past a bound is not lost, it becomes opaque body.
///
/// Broken structure is read the way common readers (Python's `email` package among them) read
/// it: a boundary line is only a boundary when nothing but blanks follows it; any enclosing
/// multipart's boundary also ends the inner ones (a missing close delimiter); text before the
/// first boundary is preamble and after the close delimiter epilogue.
public struct MIMEStructure: Sendable {
    /// The bounds of a scan.
    public struct Limits: Sendable {
        /// Deepest part whose own structure is parsed (the message is depth 0).
        public var maxDepth: Int
        /// Most parts recorded; the scan stops when it is reached.
        public var maxParts: Int
        /// Most bytes of one part's header section.
        public var maxHeaderSize: Int

        public init(maxDepth: Int = 100, maxParts: Int = 5_000, maxHeaderSize: Int = 65_536) {
            self.maxDepth = maxDepth
            self.maxParts = maxParts
            self.maxHeaderSize = maxHeaderSize
        }
    }

    public let spool: Spool
    /// Depth-first: the message first, each part before its sub-parts.
    public let parts: [MIMEPart]
    public let defects: MIMEDefects

    /// The message itself.
    public var root: MIMEPart { parts[0] }

    /// The parts with content (no sub-parts), in order.
    public var leaves: [MIMEPart] { parts.filter(\.isLeaf) }

    /// RFC 2046 section 5.1.1: boundaries are at most 70 characters; some senders exceed that,
    /// but a line longer than this is never taken for a boundary.
    static let maxBoundaryLength = 998

    /// Scans `message`'s body for its MIME structure. The message's header (as parsed, so a
    /// stage's edits count) is the root part's header.
    public static func parse(_ message: Message, limits: Limits = Limits()) throws -> MIMEStructure {
        var scanner = Scanner(spool: message.spool, limits: limits)
        try scanner.run(rootHeader: message.header, headerOffset: message.envelopeFromLine?.count ?? 0,
                        bodyOffset: message.bodyOffset)
        return MIMEStructure(spool: message.spool, parts: scanner.parts, defects: scanner.defects)
    }
}

/// The state machine behind ``MIMEStructure/parse(_:limits:)``: fed lines, it opens and closes
/// parts.
private struct Scanner {
    struct Frame {
        var part: Int
        var delimiter: [UInt8]  // "--" + boundary
        var closed = false
    }
    enum Mode { case header, body }

    let spool: Spool
    let limits: MIMEStructure.Limits
    var parts: [MIMEPart] = []
    var defects: MIMEDefects = []
    var open: [Int] = []        // the parts enclosing the current line, outermost first
    var frames: [Frame] = []    // active multipart boundaries, outermost first
    var mode = Mode.body
    var headerBuffer: [UInt8] = []
    var previousEOL = 0         // length of the line ending before the current line
    var stopped = false

    init(spool: Spool, limits: MIMEStructure.Limits) {
        self.spool = spool
        self.limits = limits
    }

    mutating func run(rootHeader: HeaderSection, headerOffset: Int, bodyOffset: Int) throws {
        parts.append(MIMEPart(index: 0, parent: nil, depth: 0, headerOffset: headerOffset))
        open = [0]
        apply(header: rootHeader, to: 0, bodyOffset: bodyOffset)
        beginBody(of: 0, at: bodyOffset)

        // Line splitting over chunks. Only the first `prefixCap` bytes of a body line are kept
        // (enough to recognise a boundary); header lines are kept whole up to the header limit.
        let prefixCap = MIMEStructure.maxBoundaryLength + 8
        var line: [UInt8] = []
        line.reserveCapacity(prefixCap)
        var lineStart = bodyOffset
        var pos = bodyOffset
        var atLineStart = true
        var lineWanted = false
        var lastByte: UInt8 = 0     // the byte before the current position, across chunks
        try spool.forEachChunk(from: bodyOffset) { chunk in
            guard !stopped, let base = chunk.baseAddress else { return }
            var i = 0
            let n = chunk.count
            while i < n, !stopped {
                if atLineStart {
                    // Only lines that may matter are copied: header lines, and body lines
                    // that start with '-' (candidate boundaries) while a boundary is active.
                    lineWanted = mode == .header || (!frames.isEmpty && chunk[i] == 45)
                    atLineStart = false
                }
                let cap = mode == .header ? limits.maxHeaderSize + 2 : prefixCap
                if let hit = memchr(base + i, 10, n - i) {
                    let lf = base.distance(to: UnsafeRawPointer(hit))
                    let len = lf + 1 - i
                    if lineWanted, line.count < cap {
                        line.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: min(len, cap - line.count)))
                    }
                    let beforeLF = lf > 0 ? chunk[lf - 1] : (i == lf ? lastByte : 0)
                    pos += len
                    i = lf + 1
                    lastByte = 10
                    handleLine(line, start: lineStart, end: pos, eol: beforeLF == 13 && pos - lineStart >= 2 ? 2 : 1)
                    line.removeAll(keepingCapacity: true)
                    lineStart = pos
                    atLineStart = true
                } else {
                    if lineWanted, line.count < cap {
                        line.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: min(n - i, cap - line.count)))
                    }
                    pos += n - i
                    lastByte = chunk[n - 1]
                    i = n
                }
            }
        }
        if !stopped, pos > lineStart { handleLine(line, start: lineStart, end: pos, eol: 0) }
        finishAll(at: spool.size)
    }

    /// Sets a part's header and what follows from it.
    mutating func apply(header: HeaderSection, to index: Int, bodyOffset: Int) {
        var p = parts[index]
        p.header = header
        p.bodyOffset = bodyOffset
        p.bodyEnd = bodyOffset
        let types = header.all("Content-Type")
        if types.count > 1 { defects.insert(.duplicateContentType) }
        // The first Content-Type field wins, as in Python's email package and most readers.
        if let field = types.first, let ct = ContentType.parse(field.rawValue) {
            p.contentType = ct
            p.hasContentType = true
        } else if let parent = p.parent, parts[parent].contentType.mimeType == "multipart/digest" {
            p.contentType = .messageRFC822
        } else {
            p.contentType = .textPlain
        }
        p.transferEncoding = ContentTransferEncoding(header["Content-Transfer-Encoding"]?.value)
        p.disposition = header["Content-Disposition"].map { ContentDisposition.parse($0.rawValue) }
        parts[index] = p
    }

    /// After a part's header: a multipart starts looking for its boundary, a message/rfc822
    /// starts the header of the message inside it, anything else is content.
    mutating func beginBody(of index: Int, at offset: Int) {
        mode = .body
        let p = parts[index]
        if p.contentType.isMultipart {
            guard let boundary = p.contentType.boundary, boundary.utf8.count <= MIMEStructure.maxBoundaryLength - 4 else {
                defects.insert(.missingBoundary)
                parts[index].isOpaque = true
                return
            }
            guard p.depth < limits.maxDepth else { defects.insert(.depthLimit); parts[index].isOpaque = true; return }
            frames.append(Frame(part: index, delimiter: Array("--\(boundary)".utf8)))
        } else if p.contentType.isMessage, p.transferEncoding.isIdentity {
            guard p.depth < limits.maxDepth else { defects.insert(.depthLimit); parts[index].isOpaque = true; return }
            guard newPart(parent: index, at: offset) != nil else { return }
            mode = .header
            headerBuffer.removeAll(keepingCapacity: true)
        }
    }

    /// Opens a sub-part whose header starts at `offset`; nil when the part limit is reached.
    mutating func newPart(parent: Int, at offset: Int) -> Int? {
        guard parts.count < limits.maxParts else {
            defects.insert(.partLimit)
            stopped = true
            return nil
        }
        let index = parts.count
        parts.append(MIMEPart(index: index, parent: parent, depth: parts[parent].depth + 1, headerOffset: offset))
        parts[parent].children.append(index)
        open.append(index)
        return index
    }

    /// Ends the header of the current part at `bodyOffset`.
    mutating func finishHeader(bodyOffset: Int) {
        let index = open.last!
        let header = (try? Message.parse(Spool(bytes: headerBuffer)).header) ?? HeaderSection()
        apply(header: header, to: index, bodyOffset: bodyOffset)
        headerBuffer.removeAll(keepingCapacity: true)
    }

    /// One line of the body: `line` holds its first bytes (all of them in a header, none of
    /// an uninteresting body line), `eol` is the length of its line ending.
    mutating func handleLine(_ line: [UInt8], start: Int, end: Int, eol: Int) {
        defer { previousEOL = eol }
        if end - start == line.count, let (k, isClose) = matchBoundary(line) {
            boundary(frame: k, isClose: isClose, lineStart: start, lineEnd: end)
            return
        }
        guard mode == .header else { return }
        let blank = line == [10] || line == [13, 10]
        if blank {
            finishHeader(bodyOffset: end)
            beginBody(of: open.last!, at: end)
            return
        }
        let first = line.first ?? 0
        let continuation = (first == 32 || first == 9) && !headerBuffer.isEmpty
        if continuation || isFieldLine(line) {
            if headerBuffer.count + line.count <= limits.maxHeaderSize, end - start == line.count {
                headerBuffer += line
                return
            }
            defects.insert(.headerLimit)
        } else {
            defects.insert(.missingHeaderSeparator)
        }
        // The header ends without an empty line: this line is the first of the body.
        finishHeader(bodyOffset: start)
        beginBody(of: open.last!, at: start)
        if mode == .header {
            // The body is itself a message (message/rfc822): this line begins its header.
            handleLine(line, start: start, end: end, eol: eol)
        }
    }

    /// `name:` with a name of printable ASCII (RFC 5322 section 2.2), blanks allowed before
    /// the colon as Message.parse allows them.
    func isFieldLine(_ line: [UInt8]) -> Bool {
        var i = 0
        while i < line.count, line[i] > 32, line[i] < 127, line[i] != 58 { i += 1 }
        guard i > 0 else { return false }
        while i < line.count, line[i] == 32 || line[i] == 9 { i += 1 }
        return i < line.count && line[i] == 58
    }

    /// Which active boundary the line is, innermost first, and whether it closes.
    func matchBoundary(_ line: [UInt8]) -> (Int, Bool)? {
        guard line.count >= 3, line[0] == 45, line[1] == 45 else { return nil }
        var k = frames.count - 1
        while k >= 0 {
            let f = frames[k]
            if !f.closed, line.count >= f.delimiter.count, line.starts(with: f.delimiter) {
                var i = f.delimiter.count
                var isClose = false
                if i + 1 < line.count, line[i] == 45, line[i + 1] == 45 { isClose = true; i += 2 }
                // RFC 2046 section 5.1.1: "transport padding" blanks may follow the boundary.
                while i < line.count, line[i] == 32 || line[i] == 9 { i += 1 }
                if i == line.count || line[i] == 10 || (line[i] == 13 && (i + 1 == line.count || line[i + 1] == 10)) {
                    return (k, isClose)
                }
            }
            k -= 1
        }
        return nil
    }

    mutating func boundary(frame k: Int, isClose: Bool, lineStart: Int, lineEnd: Int) {
        let multipart = frames[k].part
        // Every part inside this multipart ends before the line break that precedes the line.
        while let inner = open.last, inner != multipart {
            close(inner, at: lineStart)
        }
        while frames.count > k + 1 {
            if !frames.removeLast().closed { defects.insert(.missingFinalBoundary) }
        }
        if isClose {
            frames[k].closed = true
            mode = .body    // the epilogue
        } else if newPart(parent: multipart, at: lineEnd) != nil {
            mode = .header
            headerBuffer.removeAll(keepingCapacity: true)
        }
    }

    mutating func close(_ index: Int, at lineStart: Int) {
        if mode == .header, open.last == index {
            finishHeader(bodyOffset: lineStart)
        }
        mode = .body
        let end = max(parts[index].bodyOffset, lineStart - previousEOL)
        parts[index].bodyEnd = end
        open.removeLast()
    }

    mutating func finishAll(at size: Int) {
        if mode == .header, !open.isEmpty {
            finishHeader(bodyOffset: size)
            mode = .body
        }
        for index in open { parts[index].bodyEnd = max(parts[index].bodyOffset, size) }
        open = []
        if frames.contains(where: { !$0.closed }) { defects.insert(.missingFinalBoundary) }
        frames = []
    }
}

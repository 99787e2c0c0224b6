import Pipeline

/// The message as procmail holds it: one buffer, the mbox `From ` line (when there is one)
/// first, then the header, an empty line and the body. Filters replace parts of it; folders
/// are written from it in procmail's formats.
public struct ProcmailMail: Sendable, Equatable {
    public private(set) var bytes: [UInt8]
    /// Where the body starts (after the empty line ending the header; the end when none).
    public private(set) var bodyStart: Int

    /// The largest message held (procmail holds the whole message in memory too).
    public static let maximumSize = 256 << 20

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        bodyStart = ProcmailMail.findBody(bytes)
    }

    static func findBody(_ b: [UInt8]) -> Int {
        if b.first == 10 { return 1 }
        var i = 0
        while i + 1 < b.count {
            if b[i] == 10 && b[i + 1] == 10 { return i + 2 }
            i += 1
        }
        return b.count
    }

    public var header: ArraySlice<UInt8> { bytes[..<bodyStart] }
    public var body: ArraySlice<UInt8> { bytes[bodyStart...] }
    public var size: Int { bytes.count }

    /// Whether the buffer starts with an mbox `From ` line.
    public var hasFromLine: Bool { bytes.starts(with: fromPrefix) }
    var fromLineLength: Int {
        guard hasFromLine else { return 0 }
        return (bytes.firstIndex(of: 10).map { $0 + 1 }) ?? bytes.count
    }

    /// The header as conditions see it: continuation lines joined to their field (the newline
    /// before a folded line's leading blank becomes a space, as procmail's `concon` does), so
    /// `^Subject:.*word` finds a word on a folded line.
    public var searchableHeader: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bodyStart)
        let h = header
        var i = h.startIndex
        while i < h.endIndex {
            let c = h[i]
            if c == 10, i + 1 < h.endIndex, h[i + 1] == 32 || h[i + 1] == 9 { out.append(32); i += 1; continue }
            out.append(c)
            i += 1
        }
        return out
    }

    /// The part of the mail the flags ask for (h, b, or both).
    public func part(header h: Bool, body b: Bool) -> [UInt8] {
        switch (h, b) {
        case (true, true): return bytes
        case (true, false): return Array(header)
        case (false, true): return Array(body)
        default: return []
        }
    }

    /// Replaces the header, the body, or both with a filter's output.
    public mutating func replace(header h: Bool, body b: Bool, with new: [UInt8]) {
        switch (h, b) {
        case (true, false):
            var head = new
            // A header always ends with its empty line.
            if !head.isEmpty, head.last != 10 { head.append(10) }
            if !head.isEmpty, !head.suffix(2).elementsEqual([10, 10]) { head.append(10) }
            bytes = head + Array(body)
            bodyStart = head.count
        case (false, true):
            bytes = Array(header) + new
        default:
            bytes = new
            bodyStart = ProcmailMail.findBody(bytes)
        }
    }

    /// Puts `From sender  date` in front, replacing any `From ` line there (`-f`, `-d`).
    public mutating func setFromLine(sender: String, date: Int) {
        let line = Array("From \(sender)  \(Posix.localTime(date, format: "%a %b %e %H:%M:%S %Y"))\n".utf8)
        let old = fromLineLength
        bytes = line + bytes[old...]
        bodyStart = bodyStart - old + line.count
    }

    /// The sender named by the `From ` line, if there is one.
    public var fromLineSender: String? {
        guard hasFromLine else { return nil }
        let line = bytes[5..<fromLineLength]
        return String(decoding: line.prefix { $0 != 32 && $0 != 10 }, as: UTF8.self)
    }

    /// The mail without its `From ` line (what Maildir files hold).
    public var withoutFromLine: [UInt8] { Array(bytes[fromLineLength...]) }

    /// An mbox entry as procmail appends it: the buffer as it is, body lines starting with
    /// `From ` quoted as `>From ` (not the first line), and one newline added unless the mail
    /// already ends with an empty line. `raw` (the `r` flag) writes the buffer untouched.
    public func mboxEntry(raw: Bool) -> [UInt8] {
        guard !raw else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            out.append(c)
            if c == 10, i + 5 < n, bytes[i + 1] == 70, bytes[i + 2] == 114, bytes[i + 3] == 111,
               bytes[i + 4] == 109, bytes[i + 5] == 32 {
                out.append(62)
            }
            i += 1
        }
        if !(out.count >= 2 && out[out.count - 1] == 10 && out[out.count - 2] == 10) { out.append(10) }
        return out
    }

    /// What a command gets on its input (pipes, filters, TRAP, backquotes): the part asked for,
    /// with one newline added unless it already ends with an empty line (procmail's `dump`);
    /// forwards leave the `From ` line out.
    public func commandInput(header h: Bool, body b: Bool, fromLine: Bool = true, raw: Bool = false) -> [UInt8] {
        var out = part(header: h, body: b)
        if !fromLine, h, hasFromLine { out.removeFirst(fromLineLength) }
        if !raw, !(out.count >= 2 && out[out.count - 1] == 10 && out[out.count - 2] == 10) { out.append(10) }
        return out
    }

    /// An MH message as procmail writes it: the buffer (its `From ` line included) with a
    /// newline added unless it already ends with an empty line.
    public func mhMessage(raw: Bool) -> [UInt8] {
        guard !raw else { return bytes }
        var out = bytes
        if !(out.count >= 2 && out[out.count - 1] == 10 && out[out.count - 2] == 10) { out.append(10) }
        return out
    }

    /// The header field's value (first occurrence, unfolded), for LOGABSTRACT and tests.
    public func field(_ name: String) -> String? {
        let h = searchableHeader
        let key = Array((name + ":").lowercased().utf8)
        var start = 0
        while start < h.count {
            let end = h[start...].firstIndex(of: 10) ?? h.count
            let line = h[start..<end]
            if line.count >= key.count, zip(line.prefix(key.count), key).allSatisfy({ ($0 | 0x20) == ($1 | 0x20) || $0 == $1 }) {
                return String(decoding: line.dropFirst(key.count), as: UTF8.self).trimmingWhitespace()
            }
            start = end + 1
        }
        return nil
    }
}

private let fromPrefix: [UInt8] = Array("From ".utf8)

import Pipeline

/// One SMTP reply, possibly of several lines (`250-…` then `250 …`).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    /// The text of each line, after `NNN-` or `NNN `.
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    public var isPositive: Bool { code >= 200 && code < 400 }
    public var isTemporary: Bool { code >= 400 && code < 500 }
    public var isPermanent: Bool { code >= 500 }

    /// The enhanced status code at the start of the first line (RFC 2034), if its class agrees
    /// with the reply code; else one derived from the code (4.0.0, 5.0.0, 2.0.0).
    public var enhancedStatus: EnhancedStatus {
        if let word = lines.first?.split(separator: " ").first, let s = EnhancedStatus(word), s.statusClass == code / 100 {
            return s
        }
        return EnhancedStatus(code / 100 >= 2 && code / 100 <= 5 ? code / 100 : 4, 0, 0)
    }

    /// `550 5.1.1 <x>: Recipient address rejected` (lines joined by a space, as Postfix logs them).
    public var description: String { "\(code) " + lines.joined(separator: " ") }
}

/// Reads replies from bytes as they come, in any chunks. A line longer than `lineLimit` or a
/// reply of more than `lineCountLimit` lines is a protocol error, not a bigger buffer.
public struct SMTPReplyParser: Sendable {
    public static let lineLimit = 4096
    public static let lineCountLimit = 200

    var line: [UInt8] = []
    var pending: SMTPReply?

    public init() {}

    public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Feeds bytes; returns the replies completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ProtocolError) -> [SMTPReply] {
        var out: [SMTPReply] = []
        for b in bytes {
            if b == 10 {
                if line.last == 13 { line.removeLast() }
                if let r = try take(line) { out.append(r) }
                line.removeAll(keepingCapacity: true)
            } else {
                guard line.count < Self.lineLimit else {
                    throw ProtocolError(description: "reply line longer than \(Self.lineLimit) bytes")
                }
                line.append(b)
            }
        }
        return out
    }

    mutating func take(_ l: [UInt8]) throws(ProtocolError) -> SMTPReply? {
        guard l.count >= 3, l[0...2].allSatisfy({ $0 >= 48 && $0 <= 57 }), l.count == 3 || l[3] == 32 || l[3] == 45 else {
            throw ProtocolError(description: "malformed reply line: \(String(decoding: l.prefix(80), as: UTF8.self))")
        }
        let code = Int(l[0] - 48) * 100 + Int(l[1] - 48) * 10 + Int(l[2] - 48)
        let text = l.count > 4 ? String(decoding: l[4...], as: UTF8.self) : ""
        var r = pending ?? SMTPReply(code: code, lines: [])
        guard r.code == code else { throw ProtocolError(description: "reply code changed within a reply (\(r.code), then \(code))") }
        r.lines.append(text)
        guard r.lines.count <= Self.lineCountLimit else {
            throw ProtocolError(description: "reply of more than \(Self.lineCountLimit) lines")
        }
        if l.count > 3 && l[3] == 45 {
            pending = r
            return nil
        }
        pending = nil
        return r
    }
}

/// DNS messages (RFC 1035) for the questions the SMTP client asks: MX records of a mail
/// domain, A and AAAA (RFC 3596) records of a host. A value type: bytes out for the query, bytes in for the
/// answer; the socket is elsewhere. Compression pointers are followed at most 32 deep, and at
/// most 64 answers are read.
public enum DNSMessage {
    public enum RecordType: UInt16, Sendable {
        case a = 1, mx = 15, aaaa = 28

        public var name: String { self == .mx ? "MX" : self == .a ? "A" : "AAAA" }
    }

    public enum Answer: Sendable, Equatable {
        case mx(preference: Int, exchange: String)
        case a(String)
        case aaaa(String)
    }

    public struct Response: Sendable, Equatable {
        public var id: UInt16
        /// RCODE: 0 no error, 3 NXDOMAIN, others a server failure.
        public var rcode: Int
        public var answers: [Answer]
        /// TC: the answer did not fit in the UDP datagram; ask again over TCP (RFC 7766).
        public var truncated = false
    }

    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// A recursive query for `name` (RD set).
    public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8] {
        var b: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            b.append(UInt8(bytes.count))
            b += bytes
        }
        b += [0, UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        return b
    }

    public static func parse(_ m: [UInt8]) throws(FormatError) -> Response {
        guard m.count >= 12 else { throw FormatError(description: "short DNS message") }
        func u16(_ i: Int) throws(FormatError) -> Int {
            guard i + 1 < m.count else { throw FormatError(description: "truncated DNS message") }
            return Int(m[i]) << 8 | Int(m[i + 1])
        }
        let id = UInt16(try u16(0)), rcode = Int(m[3] & 0x0F)
        let qd = try u16(4), an = min(try u16(6), 64)
        var pos = 12
        for _ in 0..<qd {
            _ = try name(m, &pos)
            pos += 4
        }
        var answers: [Answer] = []
        for _ in 0..<an {
            _ = try name(m, &pos)
            let type = try u16(pos), length = try u16(pos + 8)
            let start = pos + 10
            guard start + length <= m.count else { throw FormatError(description: "truncated DNS record") }
            if type == Int(RecordType.mx.rawValue) && length >= 3 {
                var p = start + 2
                answers.append(.mx(preference: try u16(start), exchange: try name(m, &p)))
            } else if type == Int(RecordType.a.rawValue) && length == 4 {
                answers.append(.a(m[start..<start + 4].map(String.init).joined(separator: ".")))
            } else if type == Int(RecordType.aaaa.rawValue) && length == 16 {
                answers.append(.aaaa(ipv6(m[start..<start + 16])))
            }
            pos = start + length
        }
        return Response(id: id, rcode: rcode, answers: answers, truncated: m[2] & 0x02 != 0)
    }

    /// An IPv6 address in RFC 5952's text form (lower case, the longest run of two or more
    /// zero groups as `::`).
    static func ipv6(_ b: ArraySlice<UInt8>) -> String {
        let bytes = Array(b)
        let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0), i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    /// A domain name at `pos`, following compression pointers; `pos` moves past it.
    static func name(_ m: [UInt8], _ pos: inout Int) throws(FormatError) -> String {
        var labels: [String] = []
        var p = pos, jumped = false, jumps = 0
        while true {
            guard p < m.count else { throw FormatError(description: "truncated DNS name") }
            let len = Int(m[p])
            if len == 0 { p += 1; break }
            if len & 0xC0 == 0xC0 {
                guard p + 1 < m.count, jumps < 32 else { throw FormatError(description: "bad DNS compression pointer") }
                if !jumped { pos = p + 2 }
                jumped = true
                jumps += 1
                p = (len & 0x3F) << 8 | Int(m[p + 1])
                continue
            }
            guard p + 1 + len <= m.count, labels.count < 128 else { throw FormatError(description: "bad DNS label") }
            labels.append(String(decoding: m[(p + 1)...(p + len)], as: UTF8.self))
            p += 1 + len
        }
        if !jumped { pos = p }
        return labels.joined(separator: ".").lowercased()
    }
}

/// The spamc/spamd protocol (SPAMC/1.5), as a value type: the request bytes for a message, and
/// the parsed reply. No sockets here; ``SpamdClient`` moves the bytes.
///
///     PROCESS SPAMC/1.5            SPAMD/1.1 0 EX_OK
///     Content-length: 1234         Content-length: 1400
///     User: alice                  Spam: True ; 15.3 / 5.0
///                                  
///     <message>                    <message with X-Spam-* headers>
public enum SpamdProtocol {
    public enum Command: String, Sendable {
        /// Only the verdict (`Spam:` header).
        case check = "CHECK"
        /// The verdict and the names of the rules that hit.
        case symbols = "SYMBOLS"
        /// The verdict and the report.
        case report = "REPORT"
        /// The verdict and the message as spamd would deliver it (its X-Spam-* headers added).
        case process = "PROCESS"
    }

    /// A reply that does not follow the protocol, or a spamd error status.
    public struct ProtocolError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public struct Reply: Sendable, Equatable {
        /// spamd's status: 0 (EX_OK) or a sysexits code.
        public var code: Int
        public var message: String
        public var isSpam: Bool
        public var score: Double
        public var threshold: Double
        public var body: [UInt8]

        /// SYMBOLS: the rule names in the body.
        public var symbols: [String] {
            String(decoding: body, as: UTF8.self).split(whereSeparator: { $0 == "," || $0 == "\r" || $0 == "\n" }).map(String.init)
        }

        /// PROCESS: the X-Spam-* fields spamd added, as (name, value) with folding kept.
        public var spamHeaders: [(name: String, value: String)] {
            var out: [(String, String)] = []
            var lines = String(decoding: body, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            if let blank = lines.firstIndex(of: "") { lines = Array(lines[..<blank]) }
            for line in lines {
                if line.first == " " || line.first == "\t" {
                    if !out.isEmpty { out[out.count - 1].1 += "\n" + line }
                } else if let colon = line.firstIndex(of: ":") {
                    out.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingWhitespace()))
                }
            }
            return out.filter { $0.0.lowercased().hasPrefix("x-spam-") }
        }
    }

    /// The request for `message`.
    public static func request(_ command: Command, message: [UInt8], user: String?) -> [UInt8] {
        var head = "\(command.rawValue) SPAMC/1.5\r\nContent-length: \(message.count)\r\n"
        if let user, !user.isEmpty, !user.contains(where: { $0 == "\r" || $0 == "\n" }) { head += "User: \(user)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + message
    }

    /// Parses a complete reply (spamd closes the connection after it).
    public static func parse(_ bytes: [UInt8]) throws(ProtocolError) -> Reply {
        var headEnd = bytes.count
        var bodyStart = bytes.count
        if bytes.count >= 4 {
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                headEnd = i
                bodyStart = i + 4
                break
            }
        }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let status = head.first, status.hasPrefix("SPAMD/") else {
            throw ProtocolError(description: "spamd reply does not start with SPAMD/: \"\(head.first.map(String.init)?.prefix(60) ?? "")\"")
        }
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let code = Int(parts[1]) else { throw ProtocolError(description: "bad spamd status line \"\(status)\"") }
        var reply = Reply(code: code, message: parts.count > 2 ? String(parts[2]) : "", isSpam: false, score: 0, threshold: 0,
                          body: Array(bytes[bodyStart...]))
        guard code == 0 else { throw ProtocolError(description: "spamd answered \(code) \(reply.message)") }
        var sawSpam = false
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            if name == "spam" {
                // "True ; 15.3 / 5.0"
                let f = value.split(whereSeparator: { $0 == ";" || $0 == "/" }).map { String($0).trimmingWhitespace() }
                guard f.count == 3, let s = Double(f[1]), let t = Double(f[2]) else {
                    throw ProtocolError(description: "bad Spam: header \"\(value)\"")
                }
                reply.isSpam = f[0].lowercased() == "true" || f[0].lowercased() == "yes"
                reply.score = s
                reply.threshold = t
                sawSpam = true
            } else if name == "content-length" {
                guard let n = Int(value), n >= 0 else {
                    throw ProtocolError(description: "bad Content-length: header \"\(value.prefix(60))\"; expected a number of bytes")
                }
                if n <= reply.body.count { reply.body = Array(reply.body.prefix(n)) }
            }
        }
        guard sawSpam else { throw ProtocolError(description: "spamd reply has no Spam: header") }
        return reply
    }
}

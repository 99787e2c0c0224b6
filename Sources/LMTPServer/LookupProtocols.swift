import Pipeline

/// Postfix's policy delegation protocol (SMTPD_POLICY_README): a request is `name=value`
/// lines ended by an empty line; the answer is `action=…` and an empty line. Bytes in,
/// complete requests out; lines and requests are bounded.
public struct PolicyDecoder: Sendable {
    public struct Overflow: Error, Sendable {}
    public var maxLine = 4096
    public var maxAttributes = 100
    var buffer: [UInt8] = []
    var current: [String: String] = [:]

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) throws(Overflow) -> [[String: String]] {
        buffer += bytes
        var requests: [[String: String]] = []
        var start = 0
        while let nl = buffer[start...].firstIndex(of: 10) {
            var line = buffer[start..<nl]
            if line.last == 13 { line = line.dropLast() }
            start = nl + 1
            if line.isEmpty {
                requests.append(current)
                current = [:]
                continue
            }
            guard current.count < maxAttributes else { throw Overflow() }
            let text = String(decoding: line, as: UTF8.self)
            if let eq = text.firstIndex(of: "=") {
                current[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
        }
        buffer.removeFirst(start)
        if buffer.count > maxLine { throw Overflow() }
        return requests
    }

    /// The answer to one request: Postfix's `action=` line and the empty line.
    public static func answer(_ action: String) -> [UInt8] { Array("action=\(action)\n\n".utf8) }
}

/// Netstrings (`LEN:bytes,`), the framing of Postfix's socketmap protocol. Bytes in, complete
/// strings out; a length over `maxLength` or a malformed frame is an error.
public struct NetstringDecoder: Sendable {
    public struct Malformed: Error, Sendable {}
    public var maxLength = 100_000
    var buffer: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) throws(Malformed) -> [[UInt8]] {
        buffer += bytes
        var out: [[UInt8]] = []
        var start = 0
        while start < buffer.count {
            guard let colon = buffer[start...].firstIndex(of: UInt8(ascii: ":")) else {
                if buffer.count - start > 10 { throw Malformed() }
                break
            }
            let digits = buffer[start..<colon]
            guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let length = Int(String(decoding: digits, as: UTF8.self)), length <= maxLength else { throw Malformed() }
            let end = colon + 1 + length
            guard end < buffer.count else { break }
            guard buffer[end] == UInt8(ascii: ",") else { throw Malformed() }
            out.append(Array(buffer[(colon + 1)..<end]))
            start = end + 1
        }
        buffer.removeFirst(start)
        return out
    }

    public static func encode(_ text: String) -> [UInt8] {
        let body = Array(text.utf8)
        return Array("\(body.count):".utf8) + body + [UInt8(ascii: ",")]
    }
}

/// What mdad answers Postfix at SMTP time, from the same lookups as LMTP's RCPT check.
public enum RecipientQuery {
    /// The policy service's action for a request: at RCPT time, a recipient in one of our
    /// domains that LMTP would refuse is refused now, with the same code (unknown user 550
    /// 5.1.1, full mailbox 452 4.2.2); everything else is DUNNO (other restrictions decide).
    public static func policyAction(_ request: [String: String], engine: LMTPDelivery) -> String {
        guard request["request"] == "smtpd_access_policy",
              (request["protocol_state"] ?? "RCPT").uppercased() == "RCPT",
              let recipient = request["recipient"], !recipient.isEmpty, engine.handles(recipient) else { return "DUNNO" }
        switch engine.check(recipient).0 {
        case .accept: return "DUNNO"
        case .refuse(let status):
            let code = status.status.isPermanent ? (status.status.subject == 2 ? 552 : 550) : (status.status.subject == 2 ? 452 : 451)
            return "\(code) \(status.status) <\(sanitized(recipient))>: \(sanitized(status.text))"
        }
    }

    /// The socketmap answer for `name key`: map `recipients` says OK for a recipient LMTP
    /// would accept, NOTFOUND for one it would refuse for good, TEMP when a lookup failed.
    public static func socketmapAnswer(_ request: [UInt8], engine: LMTPDelivery) -> String {
        let text = String(decoding: request, as: UTF8.self)
        guard let space = text.firstIndex(of: " ") else { return "PERM request without a key" }
        let name = String(text[..<space]), key = String(text[text.index(after: space)...])
        guard name == "recipients" else { return "PERM unknown map \(sanitized(name)); expected recipients" }
        guard !key.isEmpty, !key.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return "NOTFOUND " }
        // Existence only: a full mailbox still exists (the policy service answers for room).
        switch engine.check(key, quota: false).0 {
        case .accept: return "OK \(sanitized(key))"
        case .refuse(let status):
            return status.status.isPermanent ? "NOTFOUND " : "TEMP \(sanitized(status.text))"
        }
    }

    /// No control characters reach a reply line.
    static func sanitized(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }
}

import Pipeline

/// rspamd's scanning protocol (HTTP `POST /checkv2` to its normal worker), as a value type:
/// the request bytes for a message and its envelope, and the decoded reply. No sockets here;
/// ``RspamdClient`` moves the bytes.
///
///     POST /checkv2 HTTP/1.1            HTTP/1.1 200 OK
///     Content-Length: 1234              Content-Type: application/json
///     From: alice@example.org           Content-Length: 312
///     Rcpt: bob@example.com
///     IP: 192.0.2.7                     {"action": "add header", "score": 7.2,
///     Queue-Id: 4ZxK2m0yQz               "required_score": 15.0, "symbols": {…}, …}
///
///     <message>
public enum RspamdProtocol {
    /// What rspamd is told about the message besides its bytes: the headers it reads
    /// (rspamd's protocol documentation lists them). Absent values are not sent.
    public struct Envelope: Sendable, Equatable {
        /// `From:` the envelope sender (MAIL FROM); empty for the null sender.
        public var sender: String?
        /// One `Rcpt:` each.
        public var recipients: [String]
        /// `IP:` the SMTP client's address.
        public var ip: String?
        /// `Helo:` what the client said in HELO/EHLO.
        public var helo: String?
        /// `Hostname:` the client's name (reverse DNS).
        public var hostname: String?
        /// `Queue-Id:` for rspamd's log.
        public var queueID: String?
        /// `User:` the authenticated SMTP user (rspamd then treats the mail as outbound).
        public var user: String?
        /// `Deliver-To:` the final recipient, when there is one.
        public var deliverTo: String?

        public init(sender: String? = nil, recipients: [String] = [], ip: String? = nil, helo: String? = nil, hostname: String? = nil,
                    queueID: String? = nil, user: String? = nil, deliverTo: String? = nil) {
            self.sender = sender
            self.recipients = recipients
            self.ip = ip
            self.helo = helo
            self.hostname = hostname
            self.queueID = queueID
            self.user = user
            self.deliverTo = deliverTo
        }
    }

    /// rspamd's verdict, by the name it gives in `"action"`.
    public enum Action: String, Sendable {
        case noAction = "no action"
        case greylist = "greylist"
        case addHeader = "add header"
        case rewriteSubject = "rewrite subject"
        case softReject = "soft reject"
        case reject = "reject"
    }

    public struct Symbol: Sendable, Equatable {
        public var name: String
        public var score: Double
        public var options: [String]
    }

    /// A header change rspamd asks for in its `"milter"` block.
    public struct HeaderChange: Sendable, Equatable {
        public var name: String
        public var value: String
        /// Where to insert (0: on top); nil: after the last field, as a milter's addheader.
        public var order: Int?
    }

    public struct Reply: Sendable, Equatable {
        public var action: Action
        public var score: Double
        /// rspamd's threshold for its strongest action (reject).
        public var requiredScore: Double
        /// Sorted by name.
        public var symbols: [Symbol]
        public var addHeaders: [HeaderChange] = []
        /// Field name and which instance: 0 all, n the n-th, -n the n-th from the end.
        public var removeHeaders: [(name: String, instance: Int)] = []
        /// The new Subject for `rewrite subject`.
        public var subject: String?
        /// The SMTP reply text rspamd suggests (`messages.smtp_message`).
        public var smtpMessage: String?
        /// rspamd did not scan (a settings rule or its size limit skipped the message).
        public var isSkipped = false

        public var isSpam: Bool { [.addHeader, .rewriteSubject, .softReject, .reject].contains(action) }

        public static func == (a: Reply, b: Reply) -> Bool {
            a.action == b.action && a.score == b.score && a.requiredScore == b.requiredScore && a.symbols == b.symbols
                && a.addHeaders == b.addHeaders && a.removeHeaders.map(\.name) == b.removeHeaders.map(\.name)
                && a.removeHeaders.map(\.instance) == b.removeHeaders.map(\.instance) && a.subject == b.subject
                && a.smtpMessage == b.smtpMessage && a.isSkipped == b.isSkipped
        }
    }

    /// A reply that is not rspamd's: no HTTP, an error status, or JSON without the verdict.
    public struct ProtocolError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The request for `message`. Header values lose any CR or LF, so nothing a sender chose
    /// can add a request header.
    public static func request(message: [UInt8], envelope e: Envelope, host: String) -> [UInt8] {
        var head = "POST /checkv2 HTTP/1.1\r\nHost: \(clean(host))\r\nConnection: close\r\nContent-Length: \(message.count)\r\n"
        func add(_ name: String, _ value: String?) {
            guard let value else { return }
            let v = clean(value)
            guard !v.isEmpty else { return }
            head += "\(name): \(v)\r\n"
        }
        if let sender = e.sender { head += "From: \(sender.isEmpty ? "<>" : clean(sender))\r\n" }
        for r in e.recipients { add("Rcpt", r) }
        add("IP", e.ip)
        add("Helo", e.helo)
        add("Hostname", e.hostname)
        add("Queue-Id", e.queueID)
        add("User", e.user)
        add("Deliver-To", e.deliverTo)
        head += "\r\n"
        return Array(head.utf8) + message
    }

    static func clean(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }.map(Character.init)).trimmingWhitespace()
    }

    /// The most header bytes of an HTTP reply, and the most header lines.
    static let headLimit = 64 << 10
    static let headLineLimit = 200

    /// Splits a complete HTTP/1.x response (the server closed the connection, or the bytes up
    /// to Content-Length) into its status and its body; a chunked body is put together.
    public static func parseHTTP(_ bytes: [UInt8]) throws(ProtocolError) -> (status: Int, body: [UInt8]) {
        var headEnd: Int?
        if bytes.count >= 4 {
            for i in 0...(min(bytes.count, headLimit) - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                headEnd = i
                break
            }
        }
        guard let headEnd else {
            throw ProtocolError(description: bytes.isEmpty ? "rspamd closed the connection without a reply"
                                : "rspamd's reply has no end of HTTP header in its first \(min(bytes.count, headLimit)) bytes")
        }
        let lines = String(decoding: bytes[0..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        guard lines.count <= headLineLimit else { throw ProtocolError(description: "rspamd's reply has more than \(headLineLimit) header lines") }
        let status = lines[0].split(separator: " ", maxSplits: 2)
        guard status.count >= 2, status[0].hasPrefix("HTTP/1."), let code = Int(status[1]) else {
            throw ProtocolError(description: "not an HTTP reply: \"\(lines[0].prefix(60))\"")
        }
        var body = Array(bytes[(headEnd + 4)...])
        var chunked = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
            if name == "content-length", let n = Int(value), n >= 0 {
                guard n <= body.count else { throw ProtocolError(description: "rspamd's reply ended after \(body.count) of \(n) body bytes") }
                body = Array(body.prefix(n))
            } else if name == "transfer-encoding", value.lowercased().contains("chunked") {
                chunked = true
            }
        }
        if chunked { body = try dechunk(body) }
        return (code, body)
    }

    /// RFC 9112 section 7.1: hex size, CRLF, data, CRLF … a zero size ends it.
    static func dechunk(_ b: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            var size = 0
            var digits = 0
            while i < b.count, let d = hexDigit(b[i]) {
                size = size * 16 + d
                digits += 1
                i += 1
                guard digits <= 8 else { throw ProtocolError(description: "rspamd's reply has a chunk size of more than 8 hex digits") }
            }
            guard digits > 0 else { throw ProtocolError(description: "rspamd's reply has a bad chunk size") }
            while i < b.count, b[i] != 10 { i += 1 } // chunk extensions, then CRLF
            i += 1
            if size == 0 { return out }
            guard i + size <= b.count else { throw ProtocolError(description: "rspamd's reply ended inside a chunk") }
            out += b[i..<(i + size)]
            i += size + 2
        }
        throw ProtocolError(description: "rspamd's chunked reply has no last chunk")
    }

    /// A JSON number as a header index: NaN is 0, and anything past ±10,000 is clamped (Int()
    /// of a huge Double would trap).
    static func smallInt(_ d: Double) -> Int {
        guard d.isFinite else { return 0 }
        return Int(max(-10_000, min(10_000, d)))
    }

    static func hexDigit(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }

    /// Decodes rspamd's JSON reply.
    public static func parse(json bytes: [UInt8]) throws(ProtocolError) -> Reply {
        let v: JSONValue
        do {
            v = try JSONValue.parse(bytes)
        } catch {
            throw ProtocolError(description: "rspamd's reply is not JSON: \(error)")
        }
        if let error = v["error"]?.string { throw ProtocolError(description: "rspamd: \(error)") }
        guard let actionName = v["action"]?.string else { throw ProtocolError(description: "rspamd's reply has no \"action\"") }
        guard let action = Action(rawValue: actionName) else { throw ProtocolError(description: "rspamd's reply has an unknown action \"\(actionName)\"") }
        var reply = Reply(action: action, score: v["score"]?.number ?? 0, requiredScore: v["required_score"]?.number ?? 0, symbols: [])
        reply.isSkipped = v["is_skipped"]?.bool ?? false
        for (name, s) in v["symbols"]?.members ?? [] {
            let options = (s["options"]?.array ?? []).compactMap(\.string)
            reply.symbols.append(Symbol(name: s["name"]?.string ?? name, score: s["score"]?.number ?? 0, options: options))
        }
        reply.symbols.sort { $0.name < $1.name }
        reply.subject = v["subject"]?.string
        reply.smtpMessage = v["messages"]?["smtp_message"]?.string
        if let milter = v["milter"] {
            for (name, value) in milter["add_headers"]?.members ?? [] {
                // "Name": "value", or {"value": …, "order": n}, or a list of either.
                for item in value.array ?? [value] {
                    if let s = item.string {
                        reply.addHeaders.append(HeaderChange(name: name, value: s, order: nil))
                    } else if let s = item["value"]?.string {
                        reply.addHeaders.append(HeaderChange(name: name, value: s, order: item["order"]?.number.map(smallInt)))
                    }
                }
            }
            for (name, value) in milter["remove_headers"]?.members ?? [] {
                reply.removeHeaders.append((name, smallInt(value.number ?? 0)))
            }
        }
        return reply
    }
}

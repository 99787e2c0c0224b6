import Logging
import Pipeline

/// The `rspamd` stage: asks a running rspamd (its normal worker, HTTP `POST /checkv2`, as
/// rspamc and rspamd's milter proxy do) and carries out its action per recipient:
///
/// | rspamd's action             | mdad                                                    |
/// | --------------------------- | ------------------------------------------------------- |
/// | reject                      | 550 5.7.1 for every recipient                           |
/// | soft reject, greylist       | 450 4.7.1 (try again later)                             |
/// | add header, rewrite subject | X-Spam-* headers saying Yes; the new Subject; `rspamd_folder` |
/// | no action                   | X-Spam-* headers saying No                              |
///
/// The X-Spam-* headers are SpamAssassin's (as the `spam` stage writes them, rspamd's symbols
/// as the tests), so one set of MUA filters works with every scanner. The header changes
/// rspamd asks for in its `milter` block are made too.
///
///     pipeline = rspamd
///     rspamd_server = inet:127.0.0.1:11333     # or unix:/run/rspamd/normal.sock
///     rspamd_failure_policy = accept           # or tempfail
public struct RspamdStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("rspamd_server", .string, default: "inet:127.0.0.1:11333",
              "rspamd's normal worker: inet:host:port (or host:port), or unix:/path."),
        .init("rspamd_timeout", .integer, default: "30", "Seconds the whole exchange with rspamd may take (connect, send, reply)."),
        .init("rspamd_failure_policy", .string, default: "accept",
              "When rspamd cannot be asked: accept (deliver untagged) or tempfail (defer with 451 4.7.1)."),
        .init("rspamd_user", .string, default: "", "Sent as rspamd's User: header (an authenticated sender: rspamd then scores as outbound); empty: none."),
        .init("rspamd_folder", .string, default: "", "Folder that mail rspamd tags (add header, rewrite subject) is filed into for each recipient; empty: tag only."),
        .init("rspamd_max_size", .size, default: "10485760", "Larger messages are not sent to rspamd; 0 means no limit."),
    ]

    /// The same choice as the spamd stage's.
    public typealias FailurePolicy = SpamdStage.FailurePolicy

    let server: String
    let timeout: Int
    let policy: FailurePolicy
    let user: String?
    let folder: String?
    let maxSize: Int
    let hostName: String
    /// SpamAssassin's default header templates, for the X-Spam-* fields.
    let templates: RuleSet

    public init(configuration c: Configuration) throws {
        server = try c.string("rspamd_server").trimmingWhitespace()
        timeout = try c.integer("rspamd_timeout")
        guard timeout > 0, timeout <= 3600 else { throw c.error("rspamd_timeout", "rspamd_timeout = \(timeout); expected 1 to 3600 seconds") }
        let p = try c.string("rspamd_failure_policy").trimmingWhitespace().lowercased()
        guard let policy = FailurePolicy(rawValue: p) else {
            throw c.error("rspamd_failure_policy", "rspamd_failure_policy = \(p); expected accept or tempfail")
        }
        self.policy = policy
        let u = try c.string("rspamd_user").trimmingWhitespace()
        user = u.isEmpty ? nil : u
        let f = try c.string("rspamd_folder").trimmingWhitespace()
        folder = f.isEmpty ? nil : f
        maxSize = try c.size("rspamd_max_size")
        hostName = (try? c.string("myhostname")) ?? Posix.hostName()
        templates = RuleSet.load(paths: [])
        guard RspamdClient.endpoint(server) != nil else {
            throw c.error("rspamd_server", "rspamd_server = \(server); expected inet:host:port, host:port or unix:/path")
        }
    }

    public init(server: String, timeout: Int = 30, policy: FailurePolicy = .accept, user: String? = nil, folder: String? = nil,
                maxSize: Int = 10 << 20, hostName: String = "localhost") {
        self.server = server
        self.timeout = timeout
        self.policy = policy
        self.user = user
        self.folder = folder
        self.maxSize = maxSize
        self.hostName = hostName
        templates = RuleSet.load(paths: [])
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let m = transaction.message
        guard maxSize == 0 || m.receivedSize <= maxSize else {
            context.logger.info("\(transaction.queueID): rspamd: not scanned, size \(m.receivedSize) > rspamd_max_size \(maxSize)")
            return .continue
        }
        let start = m.envelopeFromLine?.count ?? 0
        let bytes = try m.spool.read(offset: start, count: m.spool.size - start)
        let reply: RspamdProtocol.Reply
        do {
            let raw = try RspamdClient.exchange(server, RspamdProtocol.request(message: bytes, envelope: envelope(of: transaction), host: "localhost"),
                                                timeout: Double(timeout))
            let (status, body) = try RspamdProtocol.parseHTTP(raw)
            guard status == 200 else {
                throw RspamdProtocol.ProtocolError(description: "HTTP status \(status): \(String(decoding: body.prefix(200), as: UTF8.self))")
            }
            reply = try RspamdProtocol.parse(json: body)
        } catch {
            context.logger.warning("\(transaction.queueID): rspamd \(server): \(error); \(policy == .accept ? "delivered unscanned" : "deferred")")
            if policy == .tempfail {
                transaction.deferAll(DeliveryStatus(EnhancedStatus(4, 7, 1), "Spam scanner unavailable, try again later", reason: "rspamd \(server): \(error)"))
                return .stop
            }
            return .continue
        }
        context.logger.info("\(transaction.queueID): rspamd: action=\(reply.action.rawValue) score=\(RuleSet.format1(reply.score)) required=\(RuleSet.format1(reply.requiredScore)) symbols=\(reply.symbols.filter { $0.score != 0 }.map(\.name).joined(separator: ","))")
        apply(reply, to: &transaction)
        return .continue
    }

    /// What rspamd is told: the envelope, and the SMTP client as the topmost Received field
    /// (Postfix's) names it, since the LMTP peer is only the local MTA.
    func envelope(of t: Transaction) -> RspamdProtocol.Envelope {
        var e = RspamdProtocol.Envelope(sender: t.envelope.sender, recipients: t.recipients.map(\.address),
                                        queueID: t.queueID, user: user)
        if t.recipients.count == 1 { e.deliverTo = t.recipients[0].address }
        if let received = t.message.header["Received"] {
            let client = Self.receivedClient(received.value)
            e.helo = client.helo
            e.hostname = client.hostname
            e.ip = client.ip
        }
        return e
    }

    /// `from HELO (HOSTNAME [IP])`, Postfix's form (RFC 5321 section 4.4's From-domain and
    /// TCP-info): the parts that are there. Postfix writes `unknown` for a client without
    /// reverse DNS, which is not a host name.
    static func receivedClient(_ value: String) -> (helo: String?, hostname: String?, ip: String?) {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard words.count >= 2, words[0].lowercased() == "from" else { return (nil, nil, nil) }
        let helo = String(words[1])
        var hostname: String?
        var ip: String?
        if let open = value.firstIndex(of: "("), let close = value[open...].firstIndex(of: ")") {
            let inside = value[value.index(after: open)..<close]
            if let lb = inside.firstIndex(of: "["), let rb = inside[lb...].firstIndex(of: "]") {
                var a = String(inside[inside.index(after: lb)..<rb])
                if a.lowercased().hasPrefix("ipv6:") { a = String(a.dropFirst(5)) }
                if !a.isEmpty, a.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) { ip = a }
                let name = inside[..<lb].trimmingWhitespace()
                if !name.isEmpty, name.lowercased() != "unknown", !name.contains(" ") { hostname = name }
            }
        }
        return (helo, hostname, ip)
    }

    /// The headers, and per recipient the action.
    public func apply(_ reply: RspamdProtocol.Reply, to transaction: inout Transaction) {
        var header = transaction.message.header
        for name in ["X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status", "X-Spam-Checker-Version", "X-Spam-Report"] {
            header.removeAll(name) // a sender's own X-Spam-* fields must not pass for ours
        }
        for (name, instance) in reply.removeHeaders {
            let positions = header.fields.indices.filter { header.fields[$0].hasName(name) }
            if instance == 0 {
                header.removeAll(name)
            } else if instance > 0, instance <= positions.count {
                header.fields.remove(at: positions[instance - 1])
            } else if instance < 0, -instance <= positions.count {
                header.fields.remove(at: positions[positions.count + instance])
            }
        }
        for change in reply.addHeaders {
            guard let f = try? HeaderField(name: change.name, multilineValue: change.value) else { continue }
            if let order = change.order { header.fields.insert(f, at: max(0, min(order, header.fields.count))) } else { header.append(f) }
        }
        var result = SpamResult(requiredScore: reply.requiredScore)
        result.score = reply.score
        result.verdict = reply.isSpam
        for s in reply.symbols { result.hits[s.name] = 1 }
        result.scoredRules = reply.symbols.filter { $0.score != 0 }.map { ($0.name, $0.score) }
        var fields = templates.headerFields(for: result, hostName: hostName).filter { $0.name != "X-Spam-Checker-Version" }
        fields.insert(("X-Spam-Score", RuleSet.format1(result.score)), at: fields.first?.name == "X-Spam-Flag" ? 1 : 0)
        var added: [HeaderField] = []
        for (name, value) in fields {
            if let f = try? HeaderField(name: name, multilineValue: value) { added.append(f) }
        }
        header.fields.insert(contentsOf: added, at: 0)
        if reply.action == .rewriteSubject, let subject = reply.subject, let f = try? HeaderField(name: "Subject", value: subject) {
            if let i = header.fields.firstIndex(where: { $0.hasName("Subject") }) {
                header.removeAll("Subject")
                header.fields.insert(f, at: min(i, header.fields.count))
            } else {
                header.append(f)
            }
        }
        transaction.message.header = header
        let text = reply.smtpMessage.map(RspamdProtocol.clean).flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
        for i in transaction.pendingIndices {
            switch reply.action {
            case .reject:
                transaction.recipients[i].reject(DeliveryStatus(.policyRejection, text ?? "Message rejected as spam (score \(RuleSet.format1(reply.score)))",
                                                                reason: "rspamd: reject, score \(RuleSet.format1(reply.score))"))
            case .softReject, .greylist:
                transaction.recipients[i].defer(DeliveryStatus(EnhancedStatus(4, 7, 1), text ?? "Try again later",
                                                               reason: "rspamd: \(reply.action.rawValue), score \(RuleSet.format1(reply.score))"))
            case .addHeader, .rewriteSubject:
                if let folder { transaction.recipients[i].fileInto(folder) }
            case .noAction:
                break
            }
        }
    }
}

import Pipeline

/// Runs the message past milters (Sendmail/Postfix milter protocol 6), one after the other,
/// and carries out what they ask: header and body changes, recipients added or deleted,
/// quarantine, reject, tempfail, discard.
///
///     pipeline = milter, aliases, rules
///     milter_servers = inet:127.0.0.1:8891
///
/// The milter sees the message as coming from `localhost [127.0.0.1]` (mdad sits behind the
/// MTA; the real client was checked there), the macros `j`, `i`, `{daemon_name}`,
/// `{mail_addr}` and `{rcpt_addr}`, every header field and the body with CRLF line ends.
/// A milter that cannot be reached, times out or breaks the protocol gets
/// `milter_default_action`, with Postfix's meaning: `tempfail` (defer), `accept` (go on as if
/// there were no milter) or `reject`.
public struct MilterStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("milter_servers", .list, default: "",
              "Milters the milter stage consults in order: inet:HOST:PORT or unix:/path (as Postfix's smtpd_milters)."),
        .init("milter_default_action", .string, default: "tempfail",
              "What a milter that fails or cannot be reached does: tempfail, accept or reject."),
        .init("milter_connect_timeout", .time, default: "30s", "How long to wait for a milter connection."),
        .init("milter_command_timeout", .time, default: "30s", "How long to wait for a milter's reply to a step."),
        .init("milter_content_timeout", .time, default: "300s", "How long to wait for a milter's reply to the end of the message."),
        .init("milter_quarantine_folder", .string, default: "Quarantine",
              "The folder a message a milter quarantines is filed into, for every recipient."),
    ]

    public enum DefaultAction: String, Sendable { case tempfail, accept, reject }

    public let clients: [MilterClient]
    public let defaultAction: DefaultAction
    public let quarantineFolder: String

    public init(configuration config: Configuration) throws {
        var clients: [MilterClient] = []
        let timeouts = MilterClient.Timeouts(connect: Double(try config.seconds("milter_connect_timeout")),
                                             command: Double(try config.seconds("milter_command_timeout")),
                                             content: Double(try config.seconds("milter_content_timeout")))
        for text in try config.list("milter_servers") {
            do {
                clients.append(MilterClient(endpoint: try .init(parsing: text), timeouts: timeouts))
            } catch {
                throw config.error("milter_servers", "\(error)")
            }
        }
        guard !clients.isEmpty else {
            throw config.error("milter_servers", "milter_servers is empty; expected inet:HOST:PORT or unix:/path")
        }
        let action = try config.string("milter_default_action")
        guard let a = DefaultAction(rawValue: action) else {
            throw config.error("milter_default_action", "milter_default_action = \(action); expected tempfail, accept or reject")
        }
        self.init(clients: clients, defaultAction: a, quarantineFolder: try config.string("milter_quarantine_folder"))
    }

    public init(clients: [MilterClient], defaultAction: DefaultAction = .tempfail, quarantineFolder: String = "Quarantine") {
        self.clients = clients
        self.defaultAction = defaultAction
        self.quarantineFolder = quarantineFolder
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let hostName = (try? context.configuration.string("myhostname")) ?? "localhost"
        for client in clients {
            let pending = transaction.pendingIndices
            if pending.isEmpty { break }
            var session = MilterSession(.init(queueID: transaction.queueID, hostName: hostName,
                                              sender: transaction.envelope.sender,
                                              recipients: pending.map { transaction.recipients[$0].address },
                                              message: transaction.message))
            let outcome: MilterSession.Outcome
            do {
                outcome = try client.run(&session)
            } catch {
                context.logger.warning("\(transaction.queueID): milter \(client.endpoint): \(error); milter_default_action = \(defaultAction.rawValue)")
                transaction.trace(.decision, "milter \(client.endpoint) failed (\(error)); milter_default_action = \(defaultAction.rawValue)")
                switch defaultAction {
                case .accept: continue
                case .tempfail: throw DeliveryStatus(.init(4, 7, 1), "Service unavailable - try again later", reason: "milter \(client.endpoint): \(error)")
                case .reject: throw DeliveryStatus(.policyRejection, "Command rejected", reason: "milter \(client.endpoint): \(error)")
                }
            }
            for (i, verdict) in outcome.recipientReplies {
                let index = pending[i]
                transaction.trace(.decision, "milter \(client.endpoint) refused the recipient: \(verdict)", recipient: transaction.recipients[index].address)
                transaction.recipients[index].reject(Self.status(verdict, milter: client.endpoint))
            }
            switch outcome.verdict {
            case .continue:
                try apply(outcome.modifications, to: &transaction, milter: client.endpoint, context: context)
            case .discard:
                transaction.trace(.decision, "milter \(client.endpoint): discard")
                context.logger.info("\(transaction.queueID): milter \(client.endpoint): discard")
                for i in transaction.pendingIndices { transaction.recipients[i].discard() }
                return .stop
            case .reject, .tempfail:
                transaction.trace(.decision, "milter \(client.endpoint): \(outcome.verdict)")
                throw Self.status(outcome.verdict, milter: client.endpoint)
            }
        }
        return .continue
    }

    /// "550 5.7.1 text" → a status with that code and text.
    static func status(_ verdict: MilterSession.Verdict, milter: MilterClient.Endpoint) -> DeliveryStatus {
        let reply: String
        let fallback: EnhancedStatus
        switch verdict {
        case .reject(let r): reply = r; fallback = .policyRejection
        case .tempfail(let r): reply = r; fallback = .init(4, 7, 1)
        case .continue, .discard: return DeliveryStatus(.delivered, "ok")
        }
        var words = reply.split(separator: " ", maxSplits: 2).map(String.init)
        if let first = words.first, first.count == 3, Int(first) != nil { words.removeFirst() }
        var status = fallback
        if let first = words.first, let s = EnhancedStatus(first), s.statusClass == fallback.statusClass {
            status = s
            words.removeFirst()
        }
        let text = words.joined(separator: " ")
        return DeliveryStatus(status, text.isEmpty ? "Command rejected" : text, reason: "milter \(milter): \(reply)")
    }

    func apply(_ modifications: [MilterSession.Modification], to transaction: inout Transaction,
               milter: MilterClient.Endpoint, context: StageContext) throws {
        var header = transaction.message.header
        var newBody: [UInt8]?
        for m in modifications {
            switch m {
            case .addHeader(let name, let value):
                header.append(try Self.field(name, value))
                transaction.trace(.header, "milter \(milter) added \(name): \(Self.short(value))")
            case .insertHeader(let index, let name, let value):
                header.fields.insert(try Self.field(name, value), at: min(index, header.fields.count))
                transaction.trace(.header, "milter \(milter) inserted \(name): \(Self.short(value)) at \(index)")
            case .changeHeader(let index, let name, let value):
                let positions = header.fields.indices.filter { header.fields[$0].hasName(name) }
                if index >= 1, index <= positions.count {
                    if value.isEmpty {
                        header.fields.remove(at: positions[index - 1])
                        transaction.trace(.header, "milter \(milter) removed \(name) #\(index)")
                    } else {
                        header.fields[positions[index - 1]] = try Self.field(name, value)
                        transaction.trace(.header, "milter \(milter) changed \(name) #\(index) to \(Self.short(value))")
                    }
                } else if !value.isEmpty {
                    // As Sendmail: changing a field that is not there adds it.
                    header.append(try Self.field(name, value))
                    transaction.trace(.header, "milter \(milter) added \(name): \(Self.short(value))")
                }
            case .replaceBody(let body):
                newBody = body
                transaction.trace(.body, "milter \(milter) replaced the body (\(body.count) bytes)")
            case .addRecipient(let address):
                var r = Recipient(address: address)
                r.envelopeIndex = transaction.recipients.first?.envelopeIndex ?? 0
                transaction.recipients.append(r)
                transaction.trace(.recipient, "milter \(milter) added recipient <\(address)>", recipient: address)
            case .deleteRecipient(let address):
                for i in transaction.pendingIndices where transaction.recipients[i].address.lowercased() == address.lowercased() {
                    transaction.recipients[i].discard()
                    transaction.trace(.recipient, "milter \(milter) deleted recipient <\(address)>", recipient: address)
                }
            case .changeSender(let sender):
                let old = transaction.envelope.sender
                transaction.trace(.sender, "milter \(milter) changed the sender from <\(old)> to <\(sender)>")
                transaction.envelope = Envelope(sender: sender)
            case .quarantine(let reason):
                context.logger.info("\(transaction.queueID): milter \(milter): quarantine (\(reason))")
                transaction.trace(.decision, "milter \(milter) quarantined the message (\(reason)): filed into \(quarantineFolder)")
                for i in transaction.pendingIndices {
                    transaction.recipients[i].actions = [.store(folder: quarantineFolder, flags: [])]
                }
            }
        }
        var message = transaction.message
        message.header = header
        if let body = newBody {
            // The body arrives with CRLF line ends; a message stored with LF keeps LF.
            var sink = BufferSink()
            for f in header.fields { try sink.write(f.raw) }
            try sink.write(message.separator.isEmpty ? [10] : message.separator)
            if message.separator == [13, 10] {
                try sink.write(body)
            } else {
                var lf = LineFeedNormalizer(sink)
                try lf.write(body)
                try lf.finish()
                sink = lf.inner
            }
            message = try Message.parse(Spool(bytes: sink.bytes))
        }
        transaction.message = message
    }

    /// A field from a milter's name and value (folded with LF or CRLF and a tab).
    static func field(_ name: String, _ value: String) throws -> HeaderField {
        let v = value.replacing("\r\n", with: "\n")
        return v.contains("\n") ? try HeaderField(name: name, multilineValue: v) : try HeaderField(name: name, value: v)
    }

    static func short(_ value: String) -> String {
        let flat = value.replacing("\r\n", with: " ").replacing("\n", with: " ")
        return flat.count > 80 ? String(flat.prefix(77)) + "..." : flat
    }
}

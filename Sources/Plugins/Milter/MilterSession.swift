import Pipeline

/// One message's conversation with a milter, as a value type: bytes in, actions out.
///
/// ``start()`` gives the option negotiation to send; each ``receive(_:)`` takes whatever bytes
/// arrived (any split) and answers with bytes to send, or with the outcome once the milter has
/// spoken its last word. The socket is someone else's job (``MilterClient``), so the whole
/// exchange is tested as transcripts.
public struct MilterSession: Sendable {
    /// What the milter is told about the message.
    public struct Envelope: Sendable {
        public var queueID: String
        /// `$j`, the MTA's host name (myhostname).
        public var hostName: String
        /// The SMTP client the message came from, as the milter should see it.
        public var clientName: String = "localhost"
        public var clientAddress: String = "127.0.0.1"
        public var helo: String = "localhost"
        public var sender: String
        public var recipients: [String]
        public var message: Message

        public init(queueID: String, hostName: String, sender: String, recipients: [String], message: Message) {
            self.queueID = queueID
            self.hostName = hostName
            self.sender = sender
            self.recipients = recipients
            self.message = message
        }
    }

    /// What the milter asked for.
    public enum Modification: Sendable, Equatable {
        case addHeader(name: String, value: String)
        /// Insert at `index` in the whole header section (0 = at the top).
        case insertHeader(index: Int, name: String, value: String)
        /// Change the `index`th (from 1) field of that name; an empty value deletes it.
        case changeHeader(index: Int, name: String, value: String)
        case replaceBody([UInt8])
        case addRecipient(String)
        case deleteRecipient(String)
        case changeSender(String)
        case quarantine(reason: String)
    }

    public enum Verdict: Sendable, Equatable {
        /// Go on (with the modifications).
        case `continue`
        /// Refuse the message: the SMTP reply, e.g. "550 5.7.1 Command rejected".
        case reject(String)
        /// Try again later.
        case tempfail(String)
        /// Accept and drop.
        case discard
    }

    public struct Outcome: Sendable, Equatable {
        public var verdict: Verdict = .continue
        public var modifications: [Modification] = []
        /// Replies to single recipients at RCPT time, by index.
        public var recipientReplies: [Int: Verdict] = [:]
    }

    public enum Action: Sendable, Equatable {
        case send([UInt8])
        case finished(Outcome)
    }

    public struct ProtocolError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    enum Step: Equatable {
        case connect, helo, mail, rcpt(Int), data, header(Int), endOfHeader, body(offset: Int), endOfBody
    }

    /// The most modifications one milter may ask for in one message.
    public static let maximumModifications = 10_000

    public let envelope: Envelope
    /// What the milter agreed to after negotiation.
    public private(set) var actions: Milter.Actions = []
    public private(set) var steps: Milter.Steps = []
    private var step: Step?
    private var negotiated = false
    private var milterVersion: UInt32 = 0
    private var finished = false
    private var inbound: [UInt8] = []
    private var outcome = Outcome()
    private var bodyReplacement: [UInt8]?
    private let bodyLimit: Int

    /// - Parameter bodyLimit: the largest replacement body accepted from the milter.
    public init(_ envelope: Envelope, bodyLimit: Int = 64 << 20) {
        self.envelope = envelope
        self.bodyLimit = bodyLimit
    }

    /// The option negotiation, to send first.
    public func start() -> [UInt8] {
        var data: [UInt8] = []
        Milter.appendUInt32(&data, Milter.version)
        Milter.appendUInt32(&data, Milter.Actions.supported.rawValue)
        Milter.appendUInt32(&data, Milter.Steps.supported.rawValue)
        return Milter.packet(Milter.Command.optionNegotiation.rawValue, data)
    }

    /// Whether the step now waiting for a reply is the end of the message (its reply may take
    /// longer: the milter reads the whole message then).
    public var awaitingEndOfMessage: Bool { step == .endOfBody }

    /// Takes bytes from the milter; returns what to send, and the outcome at the end.
    public mutating func receive(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> [Action] {
        guard !finished else { throw ProtocolError(description: "milter sent data after the conversation ended") }
        inbound.append(contentsOf: bytes)
        var out: [Action] = []
        while inbound.count >= 5, !finished {
            let length = Int(Milter.uint32(inbound[0..<4])!)
            guard length >= 1, length <= Milter.maximumPacket else {
                throw ProtocolError(description: "milter sent a packet of \(length) bytes; expected 1 to \(Milter.maximumPacket)")
            }
            guard inbound.count >= 4 + length else { break }
            let code = inbound[4]
            let data = inbound[5..<(4 + length)]
            out += try handle(code, data)
            inbound.removeFirst(4 + length)
        }
        return out
    }

    private mutating func handle(_ code: UInt8, _ data: ArraySlice<UInt8>) throws(ProtocolError) -> [Action] {
        guard let reply = Milter.Reply(rawValue: code) else {
            throw ProtocolError(description: "milter sent unknown reply code 0x\(String(code, radix: 16))")
        }
        if !negotiated {
            guard reply == .optionNegotiation, let version = Milter.uint32(data),
                  let a = Milter.uint32(data.dropFirst(4)), let s = Milter.uint32(data.dropFirst(8)) else {
                throw ProtocolError(description: "milter did not answer the option negotiation (got '\(Character(Unicode.Scalar(code)))')")
            }
            guard version >= 2 else { throw ProtocolError(description: "milter speaks protocol version \(version); expected 2 to 6") }
            actions = Milter.Actions(rawValue: a).intersection(.supported)
            steps = Milter.Steps(rawValue: s)
            milterVersion = version
            negotiated = true
            return advance(from: nil)
        }
        let current = step
        switch reply {
        case .progress:
            return []
        case .continue:
            if current == .endOfBody { return finish() }
            return advance(from: current)
        case .accept:
            // Accept: no further callbacks, the message goes on (modifications so far stand).
            if case .rcpt = current { return advance(from: current) }
            return finish()
        case .skip:
            guard case .body = current else { throw ProtocolError(description: "milter sent skip outside the body") }
            step = .endOfBody
            return sendCurrent()
        case .reject, .tempfail, .replyCode, .discard:
            let verdict: Verdict
            switch reply {
            case .reject: verdict = .reject("550 5.7.1 Command rejected")
            case .tempfail: verdict = .tempfail("451 4.7.1 Service unavailable - try again later")
            case .discard: verdict = .discard
            default:
                let text = Milter.strings(data).first ?? ""
                verdict = text.hasPrefix("4") ? .tempfail(text) : text.hasPrefix("5") ? .reject(text)
                    : .tempfail("451 4.7.1 Service unavailable - try again later")
            }
            if case .rcpt(let i) = current, verdict != .discard {
                outcome.recipientReplies[i] = verdict
                return advance(from: current)
            }
            outcome.verdict = verdict
            return finish()
        case .addHeader, .insertHeader, .changeHeader, .replaceBody, .addRecipient, .addRecipientWithArgs,
             .deleteRecipient, .changeSender, .quarantine:
            guard current == .endOfBody else {
                throw ProtocolError(description: "milter asked for a modification ('\(Character(Unicode.Scalar(code)))') before the end of the message")
            }
            try modification(reply, data)
            return []
        case .shutdown, .connectionFailure:
            outcome.verdict = .tempfail("451 4.7.1 Service unavailable - try again later")
            return finish()
        case .setSymbolList, .optionNegotiation:
            throw ProtocolError(description: "milter sent '\(Character(Unicode.Scalar(code)))' in the middle of a message")
        }
    }

    private mutating func modification(_ reply: Milter.Reply, _ data: ArraySlice<UInt8>) throws(ProtocolError) {
        func need(_ action: Milter.Actions) throws(ProtocolError) {
            guard actions.contains(action) else {
                throw ProtocolError(description: "milter asked for a modification it did not negotiate (\(reply))")
            }
        }
        guard outcome.modifications.count < Self.maximumModifications else {
            throw ProtocolError(description: "milter asked for more than \(Self.maximumModifications) modifications")
        }
        let s = Milter.strings(data)
        switch reply {
        case .addHeader:
            try need(.addHeaders)
            guard s.count >= 2 else { throw ProtocolError(description: "add header without name and value") }
            outcome.modifications.append(.addHeader(name: s[0], value: s[1]))
        case .insertHeader, .changeHeader:
            try need(reply == .insertHeader ? .addHeaders : .changeHeaders)
            let rest = Milter.strings(data.dropFirst(4))
            guard let index = Milter.uint32(data), rest.count >= 2 else {
                throw ProtocolError(description: "header change without index, name and value")
            }
            outcome.modifications.append(reply == .insertHeader
                ? .insertHeader(index: Int(index), name: rest[0], value: rest[1])
                : .changeHeader(index: Int(index), name: rest[0], value: rest[1]))
        case .replaceBody:
            try need(.changeBody)
            var body = bodyReplacement ?? []
            guard body.count + data.count <= bodyLimit else {
                throw ProtocolError(description: "milter's replacement body is over \(bodyLimit) bytes")
            }
            body += data
            bodyReplacement = body
        case .addRecipient, .addRecipientWithArgs:
            try need(reply == .addRecipient ? .addRecipients : [.addRecipientsWithArgs])
            guard let r = s.first else { throw ProtocolError(description: "add recipient without an address") }
            outcome.modifications.append(.addRecipient(Envelope.normalizeAddress(r)))
        case .deleteRecipient:
            try need(.deleteRecipients)
            guard let r = s.first else { throw ProtocolError(description: "delete recipient without an address") }
            outcome.modifications.append(.deleteRecipient(Envelope.normalizeAddress(r)))
        case .changeSender:
            try need(.changeSender)
            guard let r = s.first else { throw ProtocolError(description: "change sender without an address") }
            outcome.modifications.append(.changeSender(Envelope.normalizeAddress(r)))
        case .quarantine:
            try need(.quarantine)
            outcome.modifications.append(.quarantine(reason: s.first ?? ""))
        default:
            break
        }
    }

    private mutating func finish() -> [Action] {
        finished = true
        if let body = bodyReplacement { outcome.modifications.append(.replaceBody(body)) }
        step = nil
        return [.send(Milter.packet(Milter.Command.quit.rawValue)), .finished(outcome)]
    }

    /// Moves to the step after `previous` that the milter wants, sending everything up to the
    /// first one that waits for a reply.
    private mutating func advance(from previous: Step?) -> [Action] {
        var out: [Action] = []
        var next = following(previous)
        while let s = next {
            if skipped(s) { next = following(s); continue }
            step = s
            out += sendCurrent()
            if expectsReply(s) { return out }
            next = following(s)
        }
        return out + finish()
    }

    private func following(_ s: Step?) -> Step? {
        let message = envelope.message
        switch s {
        case nil: return .connect
        case .connect: return .helo
        case .helo: return .mail
        case .mail: return envelope.recipients.isEmpty ? .data : .rcpt(0)
        case .rcpt(let i):
            if i + 1 < envelope.recipients.count { return .rcpt(i + 1) }
            // Every recipient refused: there is no message to talk about.
            if outcome.recipientReplies.count == envelope.recipients.count { return nil }
            return .data
        case .data: return message.header.fields.isEmpty ? .endOfHeader : .header(0)
        case .header(let i): return i + 1 < message.header.fields.count ? .header(i + 1) : .endOfHeader
        case .endOfHeader: return message.bodySize > 0 ? .body(offset: message.bodyOffset) : .endOfBody
        case .body(let offset):
            let next = offset + Milter.chunkSize / 2
            return next < message.spool.size ? .body(offset: next) : .endOfBody
        case .endOfBody: return nil
        }
    }

    private func skipped(_ s: Step) -> Bool {
        switch s {
        case .connect: return steps.contains(.noConnect)
        case .helo: return steps.contains(.noHelo)
        case .mail: return steps.contains(.noMail)
        case .rcpt: return steps.contains(.noRcpt)
        case .data: return steps.contains(.noData) || milterVersion < 4
        case .header: return steps.contains(.noHeaders)
        case .endOfHeader: return steps.contains(.noEndOfHeader)
        case .body: return steps.contains(.noBody)
        case .endOfBody: return false
        }
    }


    private func expectsReply(_ s: Step) -> Bool {
        switch s {
        case .connect: return !steps.contains(.noReplyConnect)
        case .helo: return !steps.contains(.noReplyHelo)
        case .mail: return !steps.contains(.noReplyMail)
        case .rcpt: return !steps.contains(.noReplyRcpt)
        case .data: return !steps.contains(.noReplyData)
        case .header: return !steps.contains(.noReplyHeader)
        case .endOfHeader: return !steps.contains(.noReplyEndOfHeader)
        case .body: return !steps.contains(.noReplyBody)
        case .endOfBody: return true
        }
    }

    private func macros(_ command: Milter.Command, _ pairs: [(String, String)]) -> [UInt8] {
        var data: [UInt8] = [command.rawValue]
        for (k, v) in pairs { data += Milter.cString(k) + Milter.cString(v) }
        return Milter.packet(Milter.Command.macro.rawValue, data)
    }

    private func sendCurrent() -> [Action] {
        guard let s = step else { return [] }
        let e = envelope
        var bytes: [UInt8]
        switch s {
        case .connect:
            bytes = macros(.connect, [("j", e.hostName), ("{daemon_name}", "mdad"), ("v", "mdad")])
            var data = Milter.cString(e.clientName)
            data.append(UInt8(ascii: e.clientAddress.contains(":") ? "6" : "4"))
            data += [0, 0]
            data += Milter.cString(e.clientAddress)
            bytes += Milter.packet(Milter.Command.connect.rawValue, data)
        case .helo:
            bytes = Milter.packet(Milter.Command.helo.rawValue, Milter.cString(e.helo))
        case .mail:
            bytes = macros(.mail, [("i", e.queueID), ("{mail_addr}", e.sender)])
            bytes += Milter.packet(Milter.Command.mail.rawValue, Milter.cString("<\(e.sender)>"))
        case .rcpt(let i):
            bytes = macros(.rcpt, [("{rcpt_addr}", e.recipients[i])])
            bytes += Milter.packet(Milter.Command.rcpt.rawValue, Milter.cString("<\(e.recipients[i])>"))
        case .data:
            bytes = Milter.packet(Milter.Command.data.rawValue)
        case .header(let i):
            let f = e.message.header.fields[i]
            bytes = Milter.packet(Milter.Command.header.rawValue, Milter.cString(f.name) + Milter.cString(Self.milterValue(f)))
        case .endOfHeader:
            bytes = Milter.packet(Milter.Command.endOfHeader.rawValue)
        case .body(let offset):
            // Body lines end in CRLF on the wire, as in SMTP; half a chunk is read so that
            // the CRs added never push a chunk past MILTER_CHUNK_SIZE.
            let raw = (try? e.message.spool.read(offset: offset, count: Milter.chunkSize / 2)) ?? []
            var chunk: [UInt8] = []
            chunk.reserveCapacity(raw.count * 2)
            var previous: UInt8 = offset > e.message.bodyOffset
                ? ((try? e.message.spool.read(offset: offset - 1, count: 1))?.first ?? 0) : 0
            for b in raw {
                if b == 10 && previous != 13 { chunk.append(13) }
                chunk.append(b)
                previous = b
            }
            bytes = Milter.packet(Milter.Command.body.rawValue, chunk)
        case .endOfBody:
            bytes = macros(.endOfBody, [("i", e.queueID)])
            bytes += Milter.packet(Milter.Command.endOfBody.rawValue)
        }
        return [.send(bytes)]
    }

    /// A header value as milters get it: without the one space after the colon, unfolded
    /// lines joined by LF (as Postfix and Sendmail send them), no final line end.
    static func milterValue(_ f: HeaderField) -> String {
        var v = Array(f.rawValue)
        if v.first == 32 { v.removeFirst() }
        while let last = v.last, last == 10 || last == 13 { v.removeLast() }
        var out: [UInt8] = []
        out.reserveCapacity(v.count)
        for (i, b) in v.enumerated() where !(b == 13 && i + 1 < v.count && v[i + 1] == 10) { out.append(b) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension MilterSession.Envelope {
    static func normalizeAddress(_ a: String) -> String { Pipeline.Envelope.normalize(a) }
}

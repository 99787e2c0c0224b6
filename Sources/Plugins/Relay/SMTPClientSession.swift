import Pipeline

/// `smtp_tls_security_level`.
public enum TLSLevel: String, Sendable, CaseIterable {
    case none, may, encrypt, verify, secure

    public var requiresTLS: Bool { self != .none && self != .may }
    public var verifiesCertificate: Bool { self == .verify || self == .secure }
}

/// What became of one recipient (or of a whole session): the status, the server's reply if it
/// gave one, and in reply to which command; or mdad's own words when the server said nothing.
public struct SMTPOutcome: Error, Sendable, Equatable {
    public var status: EnhancedStatus
    public var reply: SMTPReply?
    /// `RCPT TO command`, `end of DATA command`, … (Postfix's words).
    public var phase: String
    /// What happened when there is no reply (`lost connection with %s while receiving the
    /// initial server greeting`, where `%s` stands for the peer).
    public var detail: String

    public init(reply: SMTPReply, phase: String) {
        status = reply.enhancedStatus
        self.reply = reply
        self.phase = phase
        detail = ""
    }

    public init(status: EnhancedStatus, detail: String, phase: String = "") {
        self.status = status
        reply = nil
        self.phase = phase
        self.detail = detail
    }

    public var isSuccess: Bool { status.isSuccess }

    /// The words of Postfix's log line and bounce: `host mx[1.2.3.4] said: 550 … (in reply to RCPT TO command)`.
    public func reason(peer: String) -> String {
        if let reply { return "host \(peer) said: \(reply) (in reply to \(phase))" }
        return detail.replacingAll("%s", with: peer)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = "", rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

/// The SMTP client's side of one connection as a value type (RFC 5321, 3207, 4954, 3461,
/// 1870, 6152, 6531, 2920): bytes in, actions out. The NIO code only moves bytes, starts TLS
/// when asked, and streams the message body when asked.
public struct SMTPClientSession: Sendable {
    public struct Settings: Sendable {
        public var heloName: String
        public var tlsLevel: TLSLevel
        /// TLS is already on (smtp_tls_wrappermode).
        public var implicitTLS: Bool
        public var credentials: SASLCredentials?
        public var securityOptions: SASLSecurityOptions
        public var tlsSecurityOptions: SASLSecurityOptions

        public init(heloName: String, tlsLevel: TLSLevel = .none, implicitTLS: Bool = false, credentials: SASLCredentials? = nil,
                    securityOptions: SASLSecurityOptions = try! .init(["noanonymous"]),
                    tlsSecurityOptions: SASLSecurityOptions = try! .init(["noanonymous"])) {
            self.heloName = heloName
            self.tlsLevel = tlsLevel
            self.implicitTLS = implicitTLS
            self.credentials = credentials
            self.securityOptions = securityOptions
            self.tlsSecurityOptions = tlsSecurityOptions
        }
    }

    public struct Envelope: Sendable, Equatable {
        public struct Recipient: Sendable, Equatable {
            public var address: String
            public var notify: String?
            public var originalRecipient: String?
            public init(address: String, notify: String? = nil, originalRecipient: String? = nil) {
                self.address = address
                self.notify = notify
                self.originalRecipient = originalRecipient
            }
        }
        public var sender: String
        public var recipients: [Recipient]
        public var size: Int
        /// The message has bytes with the high bit set (BODY=8BITMIME when the server offers it).
        public var eightBit: Bool
        public var envid: String?
        public var ret: String?

        public init(sender: String, recipients: [Recipient], size: Int, eightBit: Bool = false, envid: String? = nil, ret: String? = nil) {
            self.sender = sender
            self.recipients = recipients
            self.size = size
            self.eightBit = eightBit
            self.envid = envid
            self.ret = ret
        }

        var needsSMTPUTF8: Bool { ([sender] + recipients.map(\.address)).contains { $0.utf8.contains { $0 >= 0x80 } } }
    }

    public enum Action: Sendable, Equatable {
        case send([UInt8])
        /// Put TLS on the connection, then call ``tlsEstablished()``.
        case startTLS
        /// Idle and greeted: ``begin(_:)`` may start a transaction.
        case ready
        /// Write the message (``DotStuffer``), then call ``bodySent()``.
        case sendBody
        /// The outcome of each recipient of the transaction, in envelope order.
        case transactionDone([SMTPOutcome])
        /// The session cannot go on: every recipient not yet decided gets this outcome.
        case failed(SMTPOutcome)
        case close
    }

    /// Which timeout applies to the reply awaited now.
    public enum Wait: Sendable, Equatable { case nothing, greeting, command, dataDone }

    enum Expect: Sendable, Equatable {
        case greeting, ehlo, helo, starttls, auth(SASLMechanism, step: Int), mail, rcpt(Int), data, dataDone, emptyDataDone, rset, quit
    }

    enum State: Sendable, Equatable { case connected, tlsHandshake, ready, body, closed }

    public let settings: Settings
    var parser = SMTPReplyParser()
    var state: State = .connected
    /// Replies awaited, in order (several at once with PIPELINING).
    var expected: [Expect] = [.greeting]
    public private(set) var tlsActive: Bool
    public private(set) var extensions: [String: String] = [:]
    /// The message of the current transaction has 8-bit bytes and the server did not announce
    /// 8BITMIME: the body goes out downgraded to 7 bits (``EightBitDowngrade``).
    public var needsDowngrade: Bool { (envelope?.eightBit ?? false) && extensions["8BITMIME"] == nil }
    var triedEHLO = false
    var authenticated = false
    // The transaction in progress.
    var envelope: Envelope?
    var mailReply: SMTPOutcome?
    var outcomes: [SMTPOutcome?] = []
    public private(set) var transactions = 0

    public init(settings: Settings) {
        self.settings = settings
        tlsActive = settings.implicitTLS
    }

    public var waitingFor: Wait {
        switch expected.first {
        case nil: return .nothing
        case .greeting, .ehlo, .helo: return .greeting
        case .dataDone: return .dataDone
        default: return .command
        }
    }

    public var isReady: Bool { state == .ready && expected.isEmpty }

    // MARK: input

    public mutating func receive(_ bytes: some Sequence<UInt8>) -> [Action] {
        guard state != .closed else { return [] }
        let replies: [SMTPReply]
        do { replies = try parser.feed(bytes) } catch {
            return fail(SMTPOutcome(status: .init(4, 5, 0), detail: "protocol error with %s: \(error)"))
        }
        var out: [Action] = []
        for r in replies where state != .closed {
            guard !expected.isEmpty else {
                out += fail(SMTPOutcome(status: .init(4, 5, 0), detail: "unexpected reply from %s: \(r)"))
                break
            }
            let e = expected.removeFirst()
            out += handle(r, e)
        }
        return out
    }

    public mutating func tlsEstablished() -> [Action] {
        guard state == .tlsHandshake else { return [] }
        tlsActive = true
        state = .connected
        extensions = [:]
        return ehlo()
    }

    /// The TLS handshake failed (certificate not trusted, name mismatch, …).
    public mutating func tlsFailed(_ why: String) -> [Action] {
        fail(SMTPOutcome(status: .init(4, 7, 5), detail: "TLS handshake with %s failed: \(why)"))
    }

    public mutating func connectionClosed() -> [Action] {
        guard state != .closed else { return [] }
        return fail(SMTPOutcome(status: .init(4, 4, 2), detail: "lost connection with %s while \(activity)"))
    }

    public mutating func timedOut() -> [Action] {
        guard state != .closed else { return [] }
        return fail(SMTPOutcome(status: .init(4, 4, 2), detail: "conversation with %s timed out while \(activity)"))
    }

    /// Between the server's 220 to STARTTLS and the end of the handshake.
    public var isNegotiatingTLS: Bool { state == .tlsHandshake }

    var activity: String {
        if state == .body { return "sending message body" }
        if state == .tlsHandshake { return "performing the TLS handshake" }
        switch expected.first {
        case .greeting: return "receiving the initial server greeting"
        case .ehlo, .helo: return "performing the EHLO handshake"
        case .starttls: return "performing the STARTTLS handshake"
        case .auth: return "performing SASL authentication"
        case .mail: return "sending MAIL FROM"
        case .rcpt: return "sending RCPT TO"
        case .data: return "sending DATA command"
        case .dataDone: return "sending end of data -- message may be sent more than once"
        default: return "in the SMTP conversation"
        }
    }

    // MARK: transactions

    /// Starts a transaction (only when ready).
    public mutating func begin(_ e: Envelope) -> [Action] {
        precondition(isReady, "begin() while the session is not ready")
        if let limit = extensions["SIZE"].flatMap({ Int($0) }), limit > 0, e.size > limit {
            let o = SMTPOutcome(status: .messageTooBig, detail: "message size \(e.size) exceeds size limit \(limit) of server %s")
            return [.transactionDone(Array(repeating: o, count: e.recipients.count)), .ready]
        }
        if e.needsSMTPUTF8 && extensions["SMTPUTF8"] == nil {
            let o = SMTPOutcome(status: .init(5, 6, 7), detail: "SMTPUTF8 is required, but was not offered by host %s")
            return [.transactionDone(Array(repeating: o, count: e.recipients.count)), .ready]
        }
        envelope = e
        mailReply = nil
        outcomes = Array(repeating: nil, count: e.recipients.count)
        transactions += 1
        let dsn = extensions["DSN"] != nil
        var mail = "MAIL FROM:<\(e.sender)>"
        if extensions["SIZE"] != nil { mail += " SIZE=\(e.size)" }
        if e.eightBit && extensions["8BITMIME"] != nil { mail += " BODY=8BITMIME" }
        if e.needsSMTPUTF8 { mail += " SMTPUTF8" }
        if dsn, let ret = e.ret { mail += " RET=\(ret)" }
        if dsn, let envid = e.envid { mail += " ENVID=\(SMTPPath.encodeXtext(envid))" }
        if extensions["PIPELINING"] != nil {
            var text = mail + "\r\n"
            expected = [.mail]
            for i in e.recipients.indices {
                text += rcptCommand(i) + "\r\n"
                expected.append(.rcpt(i))
            }
            text += "DATA\r\n"
            expected.append(.data)
            return [.send(Array(text.utf8))]
        }
        expected = [.mail]
        return [.send(Array((mail + "\r\n").utf8))]
    }

    func rcptCommand(_ i: Int) -> String {
        let r = envelope!.recipients[i]
        var c = "RCPT TO:<\(r.address)>"
        if extensions["DSN"] != nil {
            if let n = r.notify { c += " NOTIFY=\(n)" }
            // ORCPT=type;xtext (RFC 3461 section 4.2): the queue keeps the address decoded.
            if let o = r.originalRecipient, let semi = o.firstIndex(of: ";") {
                c += " ORCPT=\(o[..<semi]);\(SMTPPath.encodeXtext(String(o[o.index(after: semi)...])))"
            }
        }
        return c
    }

    /// The body has been written; ends it with the lone dot.
    public mutating func bodySent() -> [Action] {
        guard state == .body else { return [] }
        state = .ready
        expected = [.dataDone]
        return [.send(Array(".\r\n".utf8))]
    }

    public mutating func quit() -> [Action] {
        guard state != .closed else { return [] }
        state = .closed
        expected = []
        return [.send(Array("QUIT\r\n".utf8)), .close]
    }

    // MARK: replies

    mutating func handle(_ r: SMTPReply, _ e: Expect) -> [Action] {
        if r.code == 421 && e != .quit {
            return fail(SMTPOutcome(reply: r, phase: phaseName(e)))
        }
        switch e {
        case .greeting:
            guard r.code == 220 else { return fail(SMTPOutcome(reply: r, phase: "initial server greeting")) }
            return ehlo()
        case .ehlo:
            if r.code == 250 {
                readExtensions(r)
                return afterHello()
            }
            if r.isPermanent && !triedEHLO {
                triedEHLO = true
                expected = [.helo]
                return [.send(Array("HELO \(settings.heloName)\r\n".utf8))]
            }
            return fail(SMTPOutcome(reply: r, phase: "EHLO command"))
        case .helo:
            guard r.code == 250 else { return fail(SMTPOutcome(reply: r, phase: "HELO command")) }
            extensions = [:]
            return afterHello()
        case .starttls:
            if r.code == 220 {
                state = .tlsHandshake
                return [.startTLS]
            }
            if settings.tlsLevel.requiresTLS { return fail(SMTPOutcome(reply: r, phase: "STARTTLS command")) }
            return afterTLS()
        case .auth(let m, let step):
            return authReply(r, m, step)
        case .mail:
            mailReply = SMTPOutcome(reply: r, phase: "MAIL FROM command")
            if !r.isPositive {
                for i in outcomes.indices where outcomes[i] == nil { outcomes[i] = mailReply }
            }
            if expected.isEmpty {  // not pipelined
                if !r.isPositive { return finishEarly() }
                expected = [.rcpt(0)]
                return [.send(Array((rcptCommand(0) + "\r\n").utf8))]
            }
            return []
        case .rcpt(let i):
            if outcomes[i] == nil, !r.isPositive { outcomes[i] = SMTPOutcome(reply: r, phase: "RCPT TO command") }
            if expected.isEmpty {  // not pipelined
                if i + 1 < outcomes.count {
                    expected = [.rcpt(i + 1)]
                    return [.send(Array((rcptCommand(i + 1) + "\r\n").utf8))]
                }
                guard outcomes.contains(where: { $0 == nil }) else { return finishEarly() }
                expected = [.data]
                return [.send(Array("DATA\r\n".utf8))]
            }
            return []
        case .data:
            let accepted = outcomes.contains { $0 == nil }
            if r.code == 354 {
                if accepted {
                    state = .body
                    return [.sendBody]
                }
                // The server took DATA although no recipient was accepted: end it empty.
                expected = [.emptyDataDone, .rset]
                return finishResults() + [.send(Array(".\r\nRSET\r\n".utf8))]
            }
            let o = SMTPOutcome(reply: r, phase: "DATA command")
            for i in outcomes.indices where outcomes[i] == nil { outcomes[i] = o }
            return finishEarly()
        case .dataDone:
            let o = SMTPOutcome(reply: r, phase: "end of DATA command")
            for i in outcomes.indices where outcomes[i] == nil { outcomes[i] = o }
            return finishResults() + [.ready]
        case .emptyDataDone:
            return []
        case .rset:
            guard r.code == 250 else { return fail(SMTPOutcome(reply: r, phase: "RSET command")) }
            return expected.isEmpty ? [.ready] : []
        case .quit:
            return []
        }
    }

    func phaseName(_ e: Expect) -> String {
        switch e {
        case .greeting: return "initial server greeting"
        case .ehlo: return "EHLO command"
        case .helo: return "HELO command"
        case .starttls: return "STARTTLS command"
        case .auth: return "AUTH command"
        case .mail: return "MAIL FROM command"
        case .rcpt: return "RCPT TO command"
        case .data: return "DATA command"
        case .dataDone, .emptyDataDone: return "end of DATA command"
        case .rset: return "RSET command"
        case .quit: return "QUIT command"
        }
    }

    /// Every recipient is decided without a message being sent: report, RSET, and wait.
    mutating func finishEarly() -> [Action] {
        let results = finishResults()
        expected = [.rset]
        return results + [.send(Array("RSET\r\n".utf8))]
    }

    mutating func finishResults() -> [Action] {
        let results = outcomes.map { $0 ?? SMTPOutcome(status: .temporaryFailure, detail: "no reply from %s") }
        envelope = nil
        outcomes = []
        return [.transactionDone(results)]
    }

    mutating func ehlo() -> [Action] {
        expected = [.ehlo]
        return [.send(Array("EHLO \(settings.heloName)\r\n".utf8))]
    }

    mutating func readExtensions(_ r: SMTPReply) {
        extensions = [:]
        for line in r.lines.dropFirst() {
            let words = line.split(separator: " ", maxSplits: 1)
            guard let k = words.first else { continue }
            extensions[k.uppercased()] = words.count > 1 ? String(words[1]) : ""
        }
    }

    mutating func afterHello() -> [Action] {
        if !tlsActive && settings.tlsLevel != .none {
            if extensions["STARTTLS"] != nil {
                expected = [.starttls]
                return [.send(Array("STARTTLS\r\n".utf8))]
            }
            if settings.tlsLevel.requiresTLS {
                return fail(SMTPOutcome(status: .init(4, 7, 4), detail: "TLS is required, but was not offered by host %s"))
            }
        }
        return afterTLS()
    }

    mutating func afterTLS() -> [Action] {
        if let c = settings.credentials, !authenticated, let offered = extensions["AUTH"] {
            let options = tlsActive ? settings.tlsSecurityOptions : settings.securityOptions
            guard let m = SASLMechanism.choose(offered: offered.split(separator: " ").map(String.init),
                                               allowPlaintext: !options.noPlaintext) else {
                return fail(SMTPOutcome(status: .init(4, 7, 0),
                                        detail: "SASL authentication failed; cannot authenticate to server %s: no mechanism available"))
            }
            switch m {
            case .plain:
                expected = [.auth(.plain, step: 0)]
                let token = Base64.encode([0] + Array(c.username.utf8) + [0] + Array(c.password.utf8))
                return [.send(Array("AUTH PLAIN \(token)\r\n".utf8))]
            case .login:
                expected = [.auth(.login, step: 0)]
                return [.send(Array("AUTH LOGIN\r\n".utf8))]
            case .cramMD5:
                expected = [.auth(.cramMD5, step: 0)]
                return [.send(Array("AUTH CRAM-MD5\r\n".utf8))]
            }
        }
        state = .ready
        expected = []
        return [.ready]
    }

    mutating func authReply(_ r: SMTPReply, _ m: SASLMechanism, _ step: Int) -> [Action] {
        if r.code == 235 {
            authenticated = true
            state = .ready
            expected = []
            return [.ready]
        }
        if r.code == 334, m == .cramMD5, step == 0, !CRAMMD5.isAvailable {
            var o = SMTPOutcome(status: EnhancedStatus(4, 7, 0),
                                detail: "SASL authentication failed: CRAM-MD5 needs HMAC-MD5 from OpenSSL's libcrypto.so.3, which cannot be loaded (install libssl3)")
            o.reply = nil
            return fail(o)
        }
        if r.code == 334, let c = settings.credentials, m == .cramMD5, step == 0,
           let answer = CRAMMD5.response(challengeBase64: r.lines.first ?? "", credentials: c) {
            expected = [.auth(.cramMD5, step: 1)]
            return [.send(Array((answer + "\r\n").utf8))]
        }
        if r.code == 334, let c = settings.credentials, m == .login, step < 2 {
            expected = [.auth(.login, step: step + 1)]
            let word = step == 0 ? c.username : c.password
            return [.send(Array((Base64.encode(Array(word.utf8)) + "\r\n").utf8))]
        }
        // Postfix's smtp_sasl_auth_soft_bounce: an authentication failure defers, so a wrong
        // password never bounces mail.
        var o = SMTPOutcome(reply: r, phase: "AUTH command")
        o.status = EnhancedStatus(4, o.status.subject == 0 ? 7 : o.status.subject, o.status.subject == 0 ? 0 : o.status.detail)
        o.detail = "SASL authentication failed; server %s said: \(r)"
        o.reply = nil
        return fail(o)
    }

    /// The session is over: the outcome for everything still open, QUIT when it can be said.
    mutating func fail(_ o: SMTPOutcome) -> [Action] {
        let canQuit = state != .tlsHandshake && state != .body
        state = .closed
        expected = []
        envelope = nil
        outcomes = []
        return [.failed(o)] + (canQuit ? [.send(Array("QUIT\r\n".utf8))] : []) + [.close]
    }
}

/// The message as SMTP DATA carries it: every line ends in CRLF, a line starting with a dot
/// gets another (RFC 5321 4.5.2), and the last line is ended if it was not.
public struct DotStuffer: Sendable {
    var atLineStart = true
    var lastWasCR = false

    public init() {}

    public mutating func encode(_ chunk: some Sequence<UInt8>, into out: inout [UInt8]) {
        for b in chunk {
            if b == 10 {
                if !lastWasCR { out.append(13) }
                out.append(10)
                atLineStart = true
                lastWasCR = false
                continue
            }
            if lastWasCR { out.append(10); atLineStart = true }  // a bare CR becomes a line end
            lastWasCR = false
            if b == 13 { out.append(13); lastWasCR = true; continue }
            if atLineStart && b == 46 { out.append(46) }
            atLineStart = false
            out.append(b)
        }
    }

    public mutating func finish(into out: inout [UInt8]) {
        if lastWasCR { out.append(10); atLineStart = true; lastWasCR = false }
        if !atLineStart { out += [13, 10]; atLineStart = true }
    }
}

import Pipeline

/// One LMTP session (RFC 2033) as a value type: bytes in, actions out.
///
/// The NIO channel handler only moves bytes and carries out the actions; everything the
/// protocol decides is here, so tests drive it without sockets, byte by byte or in random
/// splits. The session asks its host two questions and waits for the answers, keeping any
/// pipelined input until then: is this recipient valid (``Action/checkRecipient(address:originalRecipient:)``
/// → ``recipientChecked(_:)``), and what became of the message for each recipient
/// (``Action/endMessage(_:)`` → ``messageDelivered(_:)``).
public struct LMTPSession: Sendable {
    public struct Settings: Sendable {
        public var hostName: String
        /// `message_size_limit`; 0 means no limit.
        public var messageSizeLimit: Int
        /// The most recipients per transaction (`lmtp_recipient_limit`).
        public var recipientLimit: Int
        /// Client errors after which the session is closed with 421 (`lmtp_hard_error_limit`).
        public var hardErrorLimit: Int

        public init(hostName: String, messageSizeLimit: Int = 10_240_000, recipientLimit: Int = 1000,
                    hardErrorLimit: Int = 20) {
            self.hostName = hostName
            self.messageSizeLimit = messageSizeLimit
            self.recipientLimit = recipientLimit
            self.hardErrorLimit = hardErrorLimit
        }
    }

    /// A recipient the session accepted, in RCPT order.
    public struct AcceptedRecipient: Sendable, Equatable {
        public var address: String
        /// ORCPT's address when the client gave one (`ORCPT=rfc822;user@example.com`).
        public var originalRecipient: String?
    }

    /// A complete message, ready for delivery: the host has its content (the `.content` chunks
    /// since `.beginMessage`).
    public struct Envelope: Sendable, Equatable {
        public var sender: String
        public var recipients: [AcceptedRecipient]
        /// MAIL FROM parameters (BODY, SMTPUTF8, RET, ENVID, SIZE), upper-case keys.
        public var parameters: [String: String]
        public var client: String
        /// The name the client gave in LHLO (for the Received: field).
        public var lhloName: String = ""
    }

    public enum RecipientCheck: Sendable, Equatable {
        case accept
        case refuse(DeliveryStatus)
    }

    public enum Action: Sendable, Equatable {
        /// Send these bytes to the client.
        case send([UInt8])
        /// Is this recipient deliverable? Answer with ``recipientChecked(_:)``.
        case checkRecipient(address: String, originalRecipient: String?)
        /// A message starts: open a spool.
        case beginMessage
        /// Message content (dot-unstuffed for DATA), in order.
        case content([UInt8])
        /// The message is complete: deliver it and answer with ``messageDelivered(_:)``.
        case endMessage(Envelope)
        /// Drop the spool: the message will not be delivered (too big, or the client reset).
        case abortMessage
        /// Close the connection after sending what was asked before.
        case close
    }

    enum Mode: Sendable, Equatable {
        case command
        case data
        case bdat(remaining: Int, last: Bool, discard: Bool)
        case waitingForRecipient(AcceptedRecipient)
        case waitingForDelivery
        case closed
    }

    public let settings: Settings
    public let client: String
    var mode: Mode = .command
    var buffer: [UInt8] = []
    var greeted = false
    var lhloName = ""
    var sender: String?
    var mailParameters: [String: String] = [:]
    var recipients: [AcceptedRecipient] = []
    var usedBDAT = false
    var messageOpen = false
    var contentSize = 0
    var tooBig = false
    var errors = 0
    var draining = false
    // DATA scanner state: at the start of a line (after CRLF), and whether the last byte was CR.
    var lineStart = true
    /// Records (command lines, data lines, KiB of BDAT) the client has completed: the server
    /// cuts off a client that completes none within the timeout, however it trickles bytes.
    public private(set) var records = 0
    var bdatBytes = 0
    var discardingLongLine = false

    public init(settings: Settings, client: String) {
        self.settings = settings
        self.client = client
    }

    // MARK: the host's calls

    /// The greeting, at connect.
    public mutating func start() -> [Action] {
        [reply(220, nil, "\(settings.hostName) LMTP mdad ready")]
    }

    /// Bytes from the client.
    public mutating func receive(_ bytes: [UInt8]) -> [Action] {
        if mode == .closed { return [] }
        buffer.append(contentsOf: bytes)
        return process()
    }

    public mutating func recipientChecked(_ check: RecipientCheck) -> [Action] {
        guard case .waitingForRecipient(let r) = mode else { return [] }
        mode = .command
        var out: [Action] = []
        switch check {
        case .accept:
            recipients.append(r)
            out.append(reply(250, "2.1.5", "Ok"))
        case .refuse(let status):
            out.append(reply(LMTPSession.code(for: status.status), status.status.description, "<\(r.address)>: \(status.text)"))
        }
        return out + process()
    }

    /// One status per recipient of the last ``Action/endMessage(_:)``, in RCPT order.
    public mutating func messageDelivered(_ statuses: [DeliveryStatus]) -> [Action] {
        guard mode == .waitingForDelivery else { return [] }
        var out: [Action] = []
        for (i, r) in recipients.enumerated() {
            let s = i < statuses.count ? statuses[i]
                : DeliveryStatus(.temporaryFailure, "no delivery status", reason: "host returned \(statuses.count) statuses for \(recipients.count) recipients")
            let text = s.status.isSuccess ? "<\(r.address)> \(s.text)" : "<\(r.address)>: \(s.text)"
            out.append(reply(LMTPSession.code(for: s.status), s.status.description, text))
        }
        resetTransaction()
        mode = .command
        return out + process()
    }

    /// The server is shutting down: the next command is answered 421 4.3.2 and the session
    /// closes; a transaction in progress is finished first.
    public mutating func shutdown() -> [Action] {
        draining = true
        if mode == .command && buffer.isEmpty {
            mode = .closed
            return [reply(421, "4.3.2", "\(settings.hostName) Service shutting down, closing channel"), .close]
        }
        return []
    }

    /// The client said nothing for too long.
    public mutating func timedOut() -> [Action] {
        switch mode {
        case .closed, .waitingForRecipient, .waitingForDelivery: return []   // the client waits for us
        default: break
        }
        var out: [Action] = []
        if messageOpen { out.append(.abortMessage); messageOpen = false }
        mode = .closed
        out.append(reply(421, "4.4.2", "\(settings.hostName) Error: timeout exceeded"))
        out.append(.close)
        return out
    }

    /// The client went away: whatever was being received is dropped.
    public mutating func disconnected() -> [Action] {
        var out: [Action] = []
        if messageOpen && mode != .waitingForDelivery { out.append(.abortMessage); messageOpen = false }
        mode = .closed
        return out
    }

    /// Whether the session waits for the client (not for a lookup or a delivery).
    public var awaitingClient: Bool {
        switch mode {
        case .command, .data, .bdat: return true
        case .waitingForRecipient, .waitingForDelivery, .closed: return false
        }
    }

    // MARK: the engine

    mutating func process() -> [Action] {
        var out: [Action] = []
        loop: while !buffer.isEmpty {
            switch mode {
            case .closed, .waitingForRecipient, .waitingForDelivery:
                break loop
            case .data:
                if !scanData(&out) { break loop }
            case .bdat(let remaining, let last, let discard):
                let n = min(remaining, buffer.count)
                records += (bdatBytes + n) / 1024 - bdatBytes / 1024
                bdatBytes += n
                if !discard && !tooBig {
                    appendContent(Array(buffer[0..<n]), &out)
                }
                buffer.removeFirst(n)
                let left = remaining - n
                if left > 0 {
                    mode = .bdat(remaining: left, last: last, discard: discard)
                    break loop
                }
                mode = .command
                if discard { continue }
                if last {
                    finishMessage(&out)
                } else {
                    out.append(reply(250, "2.0.0", "Ok: \(contentSize) octets received"))
                }
            case .command:
                guard let nl = buffer.firstIndex(of: 10) else {
                    if buffer.count > LMTPCommand.maxCommandLine {
                        buffer.removeAll()
                        discardingLongLine = true
                        out.append(clientError(500, "5.5.2", "Error: line too long"))
                        if mode == .closed { break loop }
                    }
                    break loop
                }
                var end = nl
                if end > 0 && buffer[end - 1] == 13 { end -= 1 }
                let line = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(nl + 1)
                if discardingLongLine { discardingLongLine = false; continue }
                if nl > LMTPCommand.maxCommandLine {
                    out.append(clientError(500, "5.5.2", "Error: line too long"))
                    continue
                }
                records += 1
                handle(LMTPCommand.parse(line), &out)
            }
        }
        return out
    }

    mutating func handle(_ command: LMTPCommand, _ out: inout [Action]) {
        if draining {
            mode = .closed
            out.append(reply(421, "4.3.2", "\(settings.hostName) Service shutting down, closing channel"))
            out.append(.close)
            return
        }
        switch command {
        case .lhlo(let name):
            resetTransaction()
            greeted = true
            lhloName = name
            var lines = [settings.hostName, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"]
            lines.append(settings.messageSizeLimit > 0 ? "SIZE \(settings.messageSizeLimit)" : "SIZE")
            lines += ["CHUNKING", "SMTPUTF8"]
            out.append(multiline(250, lines))
        case .helo:
            out.append(clientError(500, "5.5.1", "Error: this is LMTP, say LHLO"))
        case .mail(let path, let params):
            guard greeted else { out.append(clientError(503, "5.5.1", "Error: send LHLO first")); return }
            guard sender == nil else { out.append(clientError(503, "5.5.1", "Error: nested MAIL command")); return }
            if let bad = params.keys.first(where: { !["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"].contains($0) }) {
                out.append(clientError(555, "5.5.4", "Unsupported option: \(bad)"))
                return
            }
            if let body = params["BODY"], !["7BIT", "8BITMIME", "BINARYMIME"].contains(body.uppercased()) {
                out.append(clientError(501, "5.5.4", "Bad BODY parameter: \(body)"))
                return
            }
            if let size = params["SIZE"] {
                guard let n = Int(size), n >= 0 else { out.append(clientError(501, "5.5.4", "Bad SIZE parameter")); return }
                if settings.messageSizeLimit > 0 && n > settings.messageSizeLimit {
                    out.append(reply(552, "5.3.4", "Message size exceeds fixed limit"))
                    return
                }
            }
            guard LMTPSession.isSafe(path) else { out.append(clientError(501, "5.1.7", "Bad sender address syntax")); return }
            sender = path
            mailParameters = params
            out.append(reply(250, "2.1.0", "Ok"))
        case .rcpt(let path, let params):
            guard sender != nil else { out.append(clientError(503, "5.5.1", "Error: need MAIL command")); return }
            guard !usedBDAT || !messageOpen else { out.append(clientError(503, "5.5.1", "Error: RCPT after BDAT")); return }
            guard recipients.count < settings.recipientLimit else {
                out.append(reply(452, "4.5.3", "Error: too many recipients"))
                return
            }
            guard !path.isEmpty, LMTPSession.isSafe(path) else {
                out.append(clientError(501, "5.1.3", "Bad recipient address syntax"))
                return
            }
            var orcpt: String?
            if let o = params["ORCPT"] {
                // ORCPT=addr-type;xtext (RFC 3461 section 4.2); keep the address part.
                let parts = o.split(separator: ";", maxSplits: 1)
                if parts.count == 2 { orcpt = SMTPPath.decodeXtext(String(parts[1])) }
            }
            let r = AcceptedRecipient(address: path, originalRecipient: orcpt)
            mode = .waitingForRecipient(r)
            out.append(.checkRecipient(address: path, originalRecipient: orcpt))
        case .data:
            guard sender != nil else { out.append(clientError(503, "5.5.1", "Error: need MAIL command")); return }
            guard !recipients.isEmpty else { out.append(clientError(554, "5.5.1", "Error: no valid recipients")); return }
            guard !usedBDAT else { out.append(clientError(503, "5.5.1", "Error: DATA after BDAT")); return }
            openMessage(&out)
            lineStart = true
            mode = .data
            out.append(reply(354, nil, "End data with <CR><LF>.<CR><LF>"))
        case .bdat(let size, let last):
            if sender == nil || recipients.isEmpty {
                // RFC 3030: the chunk is read and thrown away, then the error is given.
                mode = .bdat(remaining: size, last: last, discard: true)
                out.append(sender == nil ? clientError(503, "5.5.1", "Error: need MAIL command")
                                         : clientError(554, "5.5.1", "Error: no valid recipients"))
                return
            }
            if !usedBDAT { usedBDAT = true; openMessage(&out) }
            mode = .bdat(remaining: size, last: last, discard: false)
            if size == 0 {
                mode = .command
                if last { finishMessage(&out) } else { out.append(reply(250, "2.0.0", "Ok: \(contentSize) octets received")) }
            }
        case .rset:
            if messageOpen { out.append(.abortMessage) }
            resetTransaction()
            out.append(reply(250, "2.0.0", "Ok"))
        case .noop:
            out.append(reply(250, "2.0.0", "Ok"))
        case .vrfy:
            out.append(reply(252, "2.0.0", "Send some mail, I'll try my best"))
        case .help:
            out.append(reply(214, "2.0.0", "Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT HELP"))
        case .quit:
            if messageOpen { out.append(.abortMessage); messageOpen = false }
            mode = .closed
            out.append(reply(221, "2.0.0", "Bye"))
            out.append(.close)
        case .unknown:
            out.append(clientError(500, "5.5.2", "Error: command not recognized"))
        case .syntaxError(let text):
            out.append(clientError(501, "5.5.4", text))
        }
    }

    /// DATA content: dot-unstuffing, and the end of data only at CRLF "." CRLF — a "." line
    /// ended by a bare LF does not end the message (the SMTP smuggling defence).
    /// Returns false when more input is needed.
    mutating func scanData(_ out: inout [Action]) -> Bool {
        var content: [UInt8] = []
        content.reserveCapacity(buffer.count)
        var i = 0
        let n = buffer.count
        var finished = false
        var needMore = false
        while i < n {
            if lineStart && buffer[i] == 46 {   // "."
                if i + 1 >= n { needMore = true; break }
                if buffer[i + 1] == 13 {
                    if i + 2 >= n { needMore = true; break }
                    if buffer[i + 2] == 10 { i += 3; finished = true; break }
                }
                // RFC 5321 4.5.2: a leading period with more on the line is removed.
                i += 1
                lineStart = false
                continue
            }
            lineStart = false
            // Copy up to and including the next LF; a line starts after CRLF only.
            var j = i
            while j < n && buffer[j] != 10 { j += 1 }
            if j < n {
                records += 1
                content.append(contentsOf: buffer[i...j])
                // A CR is never passed on without the byte after it (see below), so a CRLF is
                // always whole in the buffer here.
                lineStart = j > i && buffer[j - 1] == 13
                i = j + 1
            } else {
                // No LF yet: keep a trailing CR back, it may start a CRLF.
                let end = buffer[n - 1] == 13 ? n - 1 : n
                if end > i { content.append(contentsOf: buffer[i..<end]) }
                i = end
                if end == n - 1 { needMore = true }
                break
            }
        }
        buffer.removeFirst(i)
        if !content.isEmpty && !tooBig { appendContent(content, &out) }
        if finished {
            mode = .command
            finishMessage(&out)
            return true
        }
        return !needMore && !buffer.isEmpty
    }

    mutating func appendContent(_ bytes: [UInt8], _ out: inout [Action]) {
        contentSize += bytes.count
        if settings.messageSizeLimit > 0 && contentSize > settings.messageSizeLimit {
            tooBig = true
            out.append(.abortMessage)
            return
        }
        out.append(.content(bytes))
    }

    mutating func openMessage(_ out: inout [Action]) {
        messageOpen = true
        contentSize = 0
        tooBig = false
        out.append(.beginMessage)
    }

    mutating func finishMessage(_ out: inout [Action]) {
        messageOpen = false
        if tooBig {
            for r in recipients {
                out.append(reply(552, "5.3.4", "<\(r.address)>: Message size exceeds fixed limit"))
            }
            resetTransaction()
            return
        }
        mode = .waitingForDelivery
        var envelope = Envelope(sender: sender ?? "", recipients: recipients, parameters: mailParameters, client: client)
        envelope.lhloName = lhloName
        out.append(.endMessage(envelope))
    }

    mutating func resetTransaction() {
        sender = nil
        mailParameters = [:]
        recipients = []
        usedBDAT = false
        messageOpen = false
        contentSize = 0
        tooBig = false
    }

    mutating func clientError(_ code: Int, _ status: String, _ text: String) -> Action {
        errors += 1
        if errors >= settings.hardErrorLimit {
            mode = .closed
            return .send(Array("421 4.7.0 \(settings.hostName) Error: too many errors\r\n".utf8))
        }
        return reply(code, status, text)
    }

    func reply(_ code: Int, _ status: String?, _ text: String) -> Action {
        let line = status.map { "\(code) \($0) \(text)" } ?? "\(code) \(text)"
        return .send(Array((line + "\r\n").utf8))
    }

    func multiline(_ code: Int, _ lines: [String]) -> Action {
        var text = ""
        for (i, l) in lines.enumerated() {
            text += "\(code)\(i == lines.count - 1 ? " " : "-")\(l)\r\n"
        }
        return .send(Array(text.utf8))
    }

    /// The SMTP reply code for a delivery status.
    static func code(for status: EnhancedStatus) -> Int {
        switch (status.statusClass, status.subject, status.detail) {
        case (2, _, _): return 250
        case (4, 2, 2), (4, 3, 1), (4, 5, 3): return 452
        case (4, _, _): return 451
        case (5, 2, 2), (5, 3, 4): return 552
        case (5, 1, _), (5, 7, _), (5, 2, _), (5, 4, _): return 550
        default: return 554
        }
    }

    /// Envelope addresses go into headers and logs: no control characters.
    static func isSafe(_ address: String) -> Bool {
        address.utf8.count <= 1024 && !address.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

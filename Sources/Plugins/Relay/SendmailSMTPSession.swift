#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `sendmail -bs`: an SMTP session on standard input and output, as Postfix's sendmail runs
/// smtpd(8) in stand-alone mode for programs that speak SMTP to a pipe. Each message is
/// completed and queued exactly as `sendmail` queues one (``SendmailCommand/inject``), and
/// 250 is answered only once its queue file is fsynced.
///
/// The session is a value: lines in, replies and a message to queue out; `run` moves the bytes.
public struct SendmailSMTPSession: Sendable {
    public enum Output: Sendable, Equatable {
        case reply(String)
        /// End of DATA: queue this message, then answer. The recipients carry their DSN
        /// NOTIFY and ORCPT; `envid` and `ret` are the MAIL command's.
        case message(sender: String, recipients: [QueueFile.Recipient], envid: String?, ret: String?, data: [UInt8])
        case quit(String)
    }

    let hostName: String
    let origin: String
    let sizeLimit: Int
    /// The most recipients of one message (Postfix's smtpd_recipient_limit default).
    static let recipientLimit = 1000
    /// The longest command line accepted (RFC 5321 section 4.5.3.1.4 says 512; Postfix takes more).
    static let lineLimit = 2048

    var sender: String?
    var envid: String?
    var ret: String?
    var recipients: [QueueFile.Recipient] = []
    var inData = false
    var data: [UInt8] = []
    var tooBig = false

    public init(hostName: String, origin: String, sizeLimit: Int) {
        self.hostName = hostName
        self.origin = origin
        self.sizeLimit = sizeLimit
    }

    public var greeting: String { "220 \(hostName) ESMTP mdad" }

    func qualify(_ a: String) -> String { a.isEmpty || a.contains("@") ? a : "\(a)@\(origin)" }

    /// The path after `FROM:` or `TO:` and its ESMTP parameters: `<address> KEY=VALUE …`, or a
    /// bare address as sendmail clients sometimes send it.
    static func path(_ rest: Substring) -> (String, [String: String])? {
        let t = rest.drop { $0 == " " }
        if t.hasPrefix("<") { return SMTPPath.parse(t) }
        return t.split(separator: " ").first.map { (String($0), [:]) }
    }

    /// RFC 3461 NOTIFY: NEVER, or any of SUCCESS, FAILURE and DELAY.
    static func validNotify(_ value: String) -> Bool {
        let words = value.uppercased().split(separator: ",").map(String.init)
        return !words.isEmpty && words.allSatisfy { ["NEVER", "SUCCESS", "FAILURE", "DELAY"].contains($0) }
            && !(words.contains("NEVER") && words.count > 1)
    }

    /// RFC 3461 xtext: printable ASCII except `+` and `=`, and `+XX` hexadecimal escapes.
    static func validXtext(_ value: String) -> Bool {
        let b = Array(value.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "+") {
                guard i + 2 < b.count, b[(i + 1)...(i + 2)].allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) }) else { return false }
                i += 3
                continue
            }
            guard b[i] >= 33, b[i] <= 126, b[i] != UInt8(ascii: "=") else { return false }
            i += 1
        }
        return true
    }

    /// One line from the client, without its line end.
    public mutating func receive(_ line: [UInt8]) -> Output? {
        if inData {
            if line == [46] {
                inData = false
                defer { reset() }
                if tooBig { return .reply("552 5.3.4 Error: message file too big") }
                return .message(sender: sender ?? "", recipients: recipients, envid: envid, ret: ret, data: data)
            }
            // RFC 5321 section 4.5.2: a leading dot was doubled by the client.
            let content = line.first == 46 ? line.dropFirst() : line[...]
            if sizeLimit > 0 && data.count + content.count + 1 > sizeLimit { tooBig = true; data = [] }
            if !tooBig { data += content; data.append(10) }
            return nil
        }
        guard line.count <= Self.lineLimit else { return .reply("500 5.5.2 Error: line too long") }
        let text = String(decoding: line, as: UTF8.self)
        let verb = text.prefix { $0 != " " }.uppercased()
        let rest = text.dropFirst(verb.count)
        switch verb {
        case "EHLO":
            var r = "250-\(hostName)\r\n250-PIPELINING\r\n"
            r += sizeLimit > 0 ? "250-SIZE \(sizeLimit)\r\n" : "250-SIZE\r\n"
            return .reply(r + "250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES")
        case "HELO": return .reply("250 \(hostName)")
        case "MAIL":
            guard sender == nil else { return .reply("503 5.5.1 Error: nested MAIL command") }
            guard rest.uppercased().hasPrefix(" FROM:"), let (a, params) = Self.path(rest.dropFirst(6)) else {
                return .reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            }
            // The ESMTP parameters smtpd(8) takes from a local client, with its replies.
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                switch key {
                case "SIZE":
                    guard let n = Int(value), n >= 0, value.allSatisfy(\.isASCII) else { return .reply("501 5.5.4 Bad message size syntax") }
                    if sizeLimit > 0 && n > sizeLimit { return .reply("552 5.3.4 Message size exceeds fixed limit") }
                case "BODY":
                    guard ["7BIT", "8BITMIME"].contains(value.uppercased()) else { return .reply("501 5.5.4 Bad BODY keyword syntax") }
                case "RET":
                    guard ["FULL", "HDRS"].contains(value.uppercased()) else { return .reply("501 5.5.4 Bad RET parameter syntax") }
                case "ENVID":
                    guard !value.isEmpty, value.utf8.count <= 100, Self.validXtext(value) else {
                        return .reply("501 5.5.4 Bad ENVID parameter syntax")
                    }
                default:
                    return .reply("555 5.5.4 Unsupported option: \(key)")
                }
            }
            sender = qualify(a)
            ret = params["RET"]?.uppercased()
            envid = params["ENVID"].map(SMTPPath.decodeXtext)
            return .reply("250 2.1.0 Ok")
        case "RCPT":
            guard sender != nil else { return .reply("503 5.5.1 Error: need MAIL command") }
            guard rest.uppercased().hasPrefix(" TO:"), let (a, params) = Self.path(rest.dropFirst(4)), !a.isEmpty else {
                return .reply("501 5.5.4 Syntax: RCPT TO:<address>")
            }
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                switch key {
                case "NOTIFY":
                    guard Self.validNotify(value) else { return .reply("501 5.5.4 Error: Bad NOTIFY parameter syntax") }
                case "ORCPT":
                    let parts = value.split(separator: ";", maxSplits: 1)
                    guard parts.count == 2, !parts[0].isEmpty, Self.validXtext(String(parts[1])) else {
                        return .reply("501 5.5.4 Error: Bad ORCPT parameter syntax")
                    }
                default:
                    return .reply("555 5.5.4 Unsupported option: \(key)")
                }
            }
            guard recipients.count < Self.recipientLimit else { return .reply("452 4.5.3 Error: too many recipients") }
            let address = qualify(a)
            // ORCPT as the queue keeps it, `type;address`; without one, the address as given.
            let orcpt = params["ORCPT"].map { v -> String in
                let parts = v.split(separator: ";", maxSplits: 1)
                return parts[0].lowercased() + ";" + SMTPPath.decodeXtext(String(parts[1]))
            } ?? "rfc822;\(address)"
            recipients.append(QueueFile.Recipient(address: address, originalRecipient: orcpt, notify: params["NOTIFY"]?.uppercased()))
            return .reply("250 2.1.5 Ok")
        case "DATA":
            guard sender != nil else { return .reply("503 5.5.1 Error: need MAIL command") }
            guard !recipients.isEmpty else { return .reply("503 5.5.1 Error: need RCPT command") }
            inData = true
            return .reply("354 End data with <CR><LF>.<CR><LF>")
        case "RSET":
            reset()
            return .reply("250 2.0.0 Ok")
        case "NOOP": return .reply("250 2.0.0 Ok")
        case "VRFY": return .reply("502 5.5.1 VRFY command is disabled")
        case "QUIT": return .quit("221 2.0.0 Bye")
        default: return .reply("502 5.5.2 Error: command not recognized")
        }
    }

    mutating func reset() {
        sender = nil
        envid = nil
        ret = nil
        recipients = []
        data = []
        tooBig = false
        inData = false
    }

    /// Runs the session until QUIT or the end of input; returns the exit code.
    public static func run(_ o: SendmailCommand.Options, config: Configuration, input: Int32, output: Int32) -> Int32 {
        var session: SendmailSMTPSession
        do {
            session = SendmailSMTPSession(hostName: try config.string("myhostname"), origin: try config.string("myorigin"),
                                          sizeLimit: try config.size("message_size_limit"))
        } catch {
            SendmailCommand.say("fatal: \(error)")
            return SysExit.config.rawValue
        }
        func send(_ text: String) -> Bool { (try? Posix.writeAll(output, Array((text + "\r\n").utf8))) != nil }
        guard send(session.greeting) else { return SysExit.ioError.rawValue }
        var reader = LineReader(fd: input, limit: max(session.sizeLimit, Self.lineLimit) + 2)
        while let line = reader.next() {
            guard let out = session.receive(line) else { continue }
            switch out {
            case .reply(let text):
                guard send(text) else { return SysExit.ioError.rawValue }
            case .quit(let text):
                _ = send(text)
                return 0
            case .message(let sender, let recipients, let envid, let ret, let data):
                let reply: String
                do {
                    let message = try Message.parse(Spool(bytes: data))
                    var options = o
                    options.envid = envid ?? o.envid
                    options.ret = ret ?? o.ret
                    let id = try SendmailCommand.inject(message, sender: sender, queueRecipients: recipients, options: options, config: config)
                    reply = "250 2.0.0 Ok: queued as \(id)"
                } catch let e as DeliveryStatus {
                    reply = "\(e.status.isPermanent ? 554 : 451) \(e.status) Error: \(e.text)"
                    SendmailCommand.say("\(e.text) (\(e.reason))")
                } catch {
                    reply = "451 4.3.0 Error: queue file write error"
                    SendmailCommand.say("queue file write error: \(error)")
                }
                guard send(reply) else { return SysExit.ioError.rawValue }
            }
        }
        return 0
    }

    /// Lines from a descriptor, without CR LF; a line longer than `limit` is cut there.
    struct LineReader {
        let fd: Int32
        let limit: Int
        var buffer: [UInt8] = []
        var start = 0
        var eof = false

        init(fd: Int32, limit: Int) {
            self.fd = fd
            self.limit = limit
        }

        mutating func next() -> [UInt8]? {
            while true {
                if let nl = buffer[start...].firstIndex(of: 10) {
                    var line = Array(buffer[start..<nl])
                    if line.last == 13 { line.removeLast() }
                    start = nl + 1
                    if start > 1 << 16 { buffer.removeFirst(start); start = 0 }
                    return line
                }
                if buffer.count - start >= limit {
                    let line = Array(buffer[start..<(start + limit)])
                    start += limit
                    return line
                }
                if eof {
                    guard start < buffer.count else { return nil }
                    let line = Array(buffer[start...])
                    start = buffer.count
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = (try? chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0) }) ?? 0
                if n <= 0 { eof = true } else { buffer += chunk[0..<n] }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad sendmail` (also run as `sendmail`): Postfix's sendmail(1) flags, injecting into mdad's
/// queue. The message is completed as Postfix's cleanup(8) completes locally posted mail:
/// unqualified addresses get `@$myorigin` (in the envelope and the address header fields),
/// and a missing From:, Date: or Message-Id: is added.
///
/// An ordinary user (not root) writes into `queue_directory/maildrop` (mode 1733, like
/// Postfix's world-writable maildrop): it may drop files there but not read or list others';
/// the queue manager of `mdad serve` checks each file and moves it to incoming.
public enum SendmailCommand {
    public struct Options: Sendable, Equatable {
        public var configDirectory: String?
        public var sender: String?
        public var fullName: String?
        public var ignoreDots = false
        public var extractRecipients = false
        public var mode = Mode.deliver
        public var notify: String?
        public var ret: String?
        public var envid: String?
        public var recipients: [String] = []
        public init() {}
    }

    public enum Mode: Sendable, Equatable { case deliver, listQueue, newaliases, smtpOnStdin }

    /// Postfix's sendmail flags. Unknown `-o` options and the sendmail compatibility flags
    /// Postfix ignores are ignored here too.
    public static func parse(_ args: [String]) throws(ConfigError) -> Options {
        var o = Options()
        var i = 0
        func value(_ flag: String, _ arg: String) throws(ConfigError) -> String {
            if arg.count > 2 { return String(arg.dropFirst(2)) }
            i += 1
            guard i < args.count else { throw ConfigError("sendmail: option \(flag) requires an argument") }
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            if a == "--" { o.recipients += args[(i + 1)...]; break }
            guard a.hasPrefix("-"), a.count > 1 else { o.recipients.append(a); i += 1; continue }
            let flag = String(a.prefix(2))
            switch flag {
            case "-t": o.extractRecipients = true
            case "-i": o.ignoreDots = true
            case "-f", "-r": o.sender = try value(flag, a)
            case "-F": o.fullName = try value(flag, a)
            case "-C", "-c": o.configDirectory = try value(flag, a)
            case "-N": o.notify = try value(flag, a).uppercased()
            case "-R": o.ret = try value(flag, a).uppercased()
            case "-V": o.envid = try value(flag, a)
            case "-o":
                if a == "-oi" { o.ignoreDots = true }
                else if a == "-o" { i += 1 }  // "-o x": an option with a separate word, ignored
            case "-b":
                switch a {
                case "-bm", "-bd": o.mode = .deliver
                case "-bp": o.mode = .listQueue
                case "-bi": o.mode = .newaliases
                case "-bs": o.mode = .smtpOnStdin
                default: throw ConfigError("sendmail: unsupported mode \(a); expected -bm, -bp, -bi or -bs")
                }
            case "-v", "-n", "-m", "-U", "-G", "-X", "-L", "-q", "-B", "-h", "-d", "-A", "-O", "-e": break
            default: throw ConfigError("sendmail: unknown option \(a)")
            }
            i += 1
        }
        if let n = o.notify, !SendmailSMTPSession.validNotify(n) {
            throw ConfigError("sendmail: -N \(n): expected NEVER, or any of SUCCESS, FAILURE, DELAY separated by commas")
        }
        return o
    }

    static func say(_ text: String) { try? Posix.writeAll(2, Array(("sendmail: " + text + "\n").utf8)) }

    /// Runs sendmail; returns the exit code (sysexits).
    public static func run(_ args: [String], registry: StageRegistry = .builtin, input: Int32 = 0) -> Int32 {
        let o: Options
        do { o = try parse(args) } catch {
            say("fatal: \(error.description.replacingAll("sendmail: ", with: ""))")
            return SysExit.usage.rawValue
        }
        let config: Configuration
        do {
            let dir = Configuration.directory(commandLine: o.configDirectory)
            config = try Configuration.load(directory: dir.path, explicit: dir.explicit, table: registry.parameterTable)
            try config.validate()
        } catch {
            say("fatal: \(error)")
            return SysExit.config.rawValue
        }
        switch o.mode {
        case .listQueue:
            return MailqCommand.run(["-p"], config: config)
        case .newaliases:
            return PostmapCommand.newaliasesFromCommandLine(o.configDirectory.map { ["-c", $0] } ?? [])
        case .smtpOnStdin:
            return SendmailSMTPSession.run(o, config: config, input: input, output: 1)
        case .deliver:
            return deliver(o, config: config, input: input)
        }
    }

    static func deliver(_ o: Options, config: Configuration, input: Int32) -> Int32 {
        let origin: String, sizeLimit: Int
        do {
            origin = try config.string("myorigin")
            sizeLimit = try config.size("message_size_limit")
        } catch {
            say("fatal: \(error)")
            return SysExit.config.rawValue
        }
        func qualify(_ a: String) -> String { a.isEmpty || a.contains("@") ? a : "\(a)@\(origin)" }
        var data: [UInt8]
        do { data = try readMessage(input, ignoreDots: o.ignoreDots, limit: sizeLimit) } catch {
            say("fatal: \(error)")
            return (error as? DeliveryStatus)?.status.isPermanent == true ? SysExit.dataError.rawValue : SysExit.ioError.rawValue
        }
        let login = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "nobody"
        let sender = qualify(o.sender.map { $0 == "<>" ? "" : $0 } ?? login)
        var message: Message
        do { message = try Message.parse(Spool(bytes: data)) } catch {
            say("fatal: cannot read the message: \(error)")
            return SysExit.dataError.rawValue
        }
        var recipients = o.recipients.map(qualify)
        if o.extractRecipients {
            for name in ["To", "Cc", "Bcc"] {
                for f in message.header.all(name) {
                    recipients += AddressList.parse(f).mailboxes.map { qualify($0.address) }
                }
            }
            _ = message.header.removeAll("Bcc")
        }
        recipients = recipients.filter { !$0.isEmpty }
        guard !recipients.isEmpty else {
            say("fatal: No recipient addresses found in message header")
            return SysExit.dataError.rawValue
        }
        do {
            try inject(message, sender: sender, recipients: recipients, options: o, config: config)
        } catch let e as ConfigError {
            say("fatal: \(e)")
            return SysExit.config.rawValue
        } catch let e as DeliveryStatus {
            say("fatal: \(e.text) (\(e.reason))")
            return SysExit.forStatus(e.status).rawValue
        } catch {
            say("fatal: \(error)")
            return SysExit.software.rawValue
        }
        return 0
    }

    /// Completes a message as cleanup(8) does and queues it (fsynced); returns its queue ID.
    /// `sendmail` and `sendmail -bs` both come through here.
    @discardableResult
    static func inject(_ parsed: Message, sender: String, recipients: [String], options o: Options, config: Configuration) throws -> String {
        try inject(parsed, sender: sender,
                   queueRecipients: recipients.map { .init(address: $0, originalRecipient: "rfc822;\($0)", notify: o.notify) },
                   options: o, config: config)
    }

    /// Queues a message for recipients that carry their own DSN NOTIFY and ORCPT (`sendmail -bs`).
    static func inject(_ parsed: Message, sender: String, queueRecipients: [QueueFile.Recipient], options o: Options,
                       config: Configuration) throws -> String {
        var message = parsed
        let origin = try config.string("myorigin"), hostName = try config.string("myhostname")
        // cleanup(8): qualify addresses in the header; add what a message must have.
        message.header.rewriteAddresses { m in
            guard m.domain == nil, !m.localPart.isEmpty else { return m }
            var q = m
            q.domain = origin
            return q
        }
        let id = QueueStore.newID()
        var added: [HeaderField] = []
        if !message.header.contains("From") {
            let name = o.fullName.map { n in
                n.allSatisfy({ $0.isLetter || $0.isNumber || $0 == " " || $0 == "-" }) ? "\(n) "
                    : "\"" + n.filter { $0 != "\"" && $0 != "\\" && !$0.isNewline } + "\" " } ?? ""
            if let f = try? HeaderField(name: "From", value: sender.isEmpty ? "MAILER-DAEMON" : "\(name)<\(sender)>") { added.append(f) }
        }
        if !message.header.contains("Date"),
           let f = try? HeaderField(name: "Date", value: Posix.localTime(Int(time(nil)), format: "%a, %e %b %Y %H:%M:%S %z")) {
            added.append(f)
        }
        if !message.header.contains("Message-ID"), let f = try? HeaderField(name: "Message-Id", value: "<\(id)@\(hostName)>") {
            added.append(f)
        }
        let transport = QueueTransport(store: try QueueStore(configuration: config))
        // root may make the queue (as `postfix start` does); an ordinary user needs it made.
        if geteuid() == 0 && !Posix.isDirectory(transport.store.directory + "/incoming") {
            do { try transport.store.create() } catch { throw ConfigError("cannot create the queue: \(error)") }
        }
        let envelope = QueueFile(arrival: Int(time(nil)), sender: sender, envid: o.envid, ret: o.ret,
                                 recipients: queueRecipients,
                                 messageSize: 0)
        let m = message
        return try transport.enqueue(envelope) { sink in
            for f in added { try sink.write(f.raw) }
            try m.write(to: &sink)
        }
    }

    /// Standard input up to EOF, or (without -i) up to a line holding a single dot.
    static func readMessage(_ fd: Int32, ignoreDots: Bool, limit: Int) throws -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0) }
            if n == 0 { break }
            data += chunk[0..<n]
            if limit > 0 && data.count > limit {
                throw DeliveryStatus(.messageTooBig, "message file too big", reason: "message larger than message_size_limit (\(limit) bytes)")
            }
        }
        if !ignoreDots {
            var start = 0
            for (k, b) in data.enumerated() where b == 10 {
                let line = data[start..<k]
                if line == [46] || line == [46, 13] { return Array(data[..<start]) }
                start = k + 1
            }
            if data[start...] == [46] { return Array(data[..<start]) }
        }
        return data
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Pipeline

/// `mdad deliver`: one message on standard input, one recipient, as Postfix's
/// `mailbox_command` (or any MTA's local delivery hook) runs it. The flags mean what they
/// mean to dovecot-lda.
public struct DeliverOptions: Sendable, Equatable {
    /// `-c DIR`: the configuration directory.
    public var configDirectory: String?
    /// `-d USER`: the destination user; without it, the user running mdad.
    public var destinationUser: String?
    /// `-a ADDRESS`: the original recipient.
    public var originalRecipient: String?
    /// `-r ADDRESS`: the final recipient (defaults to `-a`).
    public var finalRecipient: String?
    /// `-f SENDER`: the envelope sender; `''` or `<>` is the null sender.
    public var sender: String?
    /// `-m MAILBOX`: the folder the implicit keep stores into.
    public var mailbox: String?
    /// `-o name=value`: parameter overrides, as Postfix's `-o`.
    public var overrides: [String] = []
    /// The recipient's actions, decided already (`-A`, internal: the LMTP server's privileged
    /// child gets the actions the daemon's chain chose). Empty means the chain decides.
    public var actions: [RecipientAction] = []
    /// Where the message comes from.
    public var input: Int32 = 0

    public init() {}
}

/// What `mdad deliver` ends with: the exit code Postfix reads and the line it puts in a bounce.
public struct DeliverOutcome: Sendable, Equatable {
    public var exitCode: SysExit
    public var status: DeliveryStatus
}

/// The local delivery agent: configuration, user, spool, chain, Maildir, log.
public struct LocalDeliveryAgent: Sendable {
    public var registry: StageRegistry
    public var system: SystemInfo

    public init(registry: StageRegistry = .builtin, system: SystemInfo = .current()) {
        self.registry = registry
        self.system = system
    }

    /// Delivers and reports: the status line goes first on standard error (Postfix reads an
    /// enhanced status code at the start of a command's output), then the held log lines.
    /// Never throws: every failure becomes an exit code.
    public func runAndReport(_ options: DeliverOptions, program: String = "deliver") async -> SysExit {
        let (outcome, log) = await run(options, program: program)
        if outcome.exitCode != .ok {
            // A deferral stays on this host (Postfix logs it), so it may carry the detailed
            // reason an administrator needs; a bounce goes to the sender and carries only `text`.
            let s = outcome.status
            let text = s.status.isTemporary ? s.reason : s.text
            try? Posix.writeAll(2, Array("\(s.status) \(text.replacingNewlines())\n".utf8))
        }
        log.flush()
        return outcome.exitCode
    }

    /// Delivers one message. The returned log still holds the lines meant for standard error.
    public func run(_ options: DeliverOptions, program: String = "deliver") async -> (DeliverOutcome, Maillog) {
        let start = Timestamp.now()
        // Until the configuration is read, log to standard error under the default name.
        var log = Maillog(program: "mdad/\(program)", hostName: system.hostName, destination: .standardError)

        func fail(_ status: DeliveryStatus) -> (DeliverOutcome, Maillog) {
            log.log("\(status.status.isTemporary ? "warning" : "error"): \(status.reason)")
            return (DeliverOutcome(exitCode: SysExit.forStatus(status.status), status: status), log)
        }

        // 1. Configuration: any error defers (4.3.5), with file and line.
        let configuration: Configuration
        let chain: Chain
        do {
            let dir = Configuration.directory(commandLine: options.configDirectory)
            var config = try Configuration.load(directory: dir.path, explicit: dir.explicit,
                                                table: registry.parameterTable, system: system)
            for o in options.overrides {
                guard let eq = o.firstIndex(of: "=") else {
                    throw ConfigError(file: "command line", "bad -o option \"\(o)\"; expected name=value")
                }
                config.set(String(o[..<eq]).trimmingWhitespace(), String(o[o.index(after: eq)...]).trimmingWhitespace())
            }
            try config.validate()
            log = Maillog(program: "\(try config.string("syslog_name"))/\(program)",
                          hostName: try config.string("myhostname"),
                          destination: try Self.logDestination(config))
            for w in config.warnings { log.log("warning: \(w)") }
            for e in config.unusedEntries {
                log.log("warning: \(e.file), line \(e.line): unused parameter: \(e.name)=\(e.value)")
            }
            chain = try registry.makeChain(config)
            configuration = config
        } catch {
            return fail(DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)"))
        }

        do {
            return try await deliver(options, configuration: configuration, chain: chain, log: log, start: start)
        } catch let status as DeliveryStatus {
            return fail(status)
        } catch {
            return fail(.unexpected(error, while: "delivering"))
        }
    }

    private func deliver(_ options: DeliverOptions, configuration config: Configuration, chain: Chain,
                         log: Maillog, start: Timestamp) async throws -> (DeliverOutcome, Maillog) {
        // 2. The mailbox (a system user's or a virtual one), then its owner's privileges.
        let myhostname = try config.string("myhostname")
        let resolver: MailboxResolver
        do {
            resolver = try MailboxResolver(config)
        } catch {
            throw DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)")
        }
        let target = try resolveMailbox(options, resolver: resolver, myhostname: myhostname)
        // A spool mbox the user cannot create is created now, while still root.
        if target.format == .mbox { try MboxSpool.prepare(target.path, uid: target.uid, gid: target.gid) }
        do {
            try LocalUser.become(uid: target.uid, gid: target.gid, name: target.user?.name)
        } catch {
            throw DeliveryStatus(.temporaryFailure, "cannot switch to the mailbox owner",
                                 reason: "cannot switch to uid \(target.uid) for \(target.owner): \(error)")
        }
        if geteuid() != 0 && geteuid() != target.uid {
            throw DeliveryStatus(.temporaryFailure, "cannot deliver to \(target.owner): not running as root or as its owner",
                                 reason: "cannot deliver to \(target.owner): running as uid \(geteuid()), mailbox owner is uid \(target.uid)")
        }

        // 3. Spool the message as it arrives.
        let sizeLimit = try config.size("message_size_limit")
        var spoolDir = try config.string("spool_directory")
        if spoolDir.isEmpty { spoolDir = Posix.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp" }
        var writer = SpoolWriter(memoryLimit: try config.size("spool_memory_limit"),
                                 sizeLimit: sizeLimit > 0 ? sizeLimit + 4096 : 0, directory: spoolDir)
        do {
            HandOff.close()   // standard input is being read: no hand-off after this
            try writer.drain(options.input)
        } catch is MessageTooLarge {
            throw DeliveryStatus(.messageTooBig, "message size exceeds fixed maximum message size")
        } catch let e as SystemError {
            throw DeliveryStatus(.temporaryFailure, "cannot spool message", reason: "cannot spool message: \(e)")
        }
        let spool = writer.finish()
        let message = try Message.parse(spool, limits: Message.Limits(fieldSize: try config.size("header_size_limit")))
        if sizeLimit > 0 && message.receivedSize > sizeLimit {
            throw DeliveryStatus(.messageTooBig, "message size exceeds fixed maximum message size")
        }
        let received = Timestamp.now()

        // 4. The envelope.
        let sender = try envelopeSender(options, message: message)
        let finalAddress = Self.finalAddress(options, target: target, myhostname: myhostname)
        let originalAddress = options.originalRecipient.map(Envelope.normalize) ?? finalAddress
        var recipient = Recipient(address: finalAddress, originalAddress: originalAddress, user: target.owner)
        recipient.defaultFolder = options.mailbox.flatMap { $0.isEmpty || $0.uppercased() == "INBOX" ? nil : $0 }
        recipient.actions = options.actions

        var tx = Transaction(envelope: Envelope(sender: sender), recipients: [recipient],
                             message: message, arrival: start)
        var logger = Logger(label: "mdad") { _ in log.handler(label: "mdad") }
        logger[metadataKey: "queue_id"] = "\(tx.queueID)"
        log.log(Maillog.messageLine(queueID: tx.queueID, sender: sender, size: message.receivedSize, recipients: 1))

        // 5. Trace fields and the loop check.
        let plan = TraceHeaders.plan(for: message, sender: sender, recipient: recipient.address)
        if let loop = plan.loop {
            tx.recipients[0].reject(loop)
        } else {
            tx.recipients[0].headerAdditions = plan.additions
        }

        // 6. The chain.
        await chain.run(&tx, context: StageContext(logger: logger, configuration: config))
        let chained = Timestamp.now()
        if tx.envelope.sender != sender {
            tx.recipients[0].headerAdditions = TraceHeaders.returnPath(tx.recipients[0].headerAdditions, sender: tx.envelope.sender)
        }

        // 7. Carry out what the chain asked for.
        // One delivery per process: `group` has no one to share flushes with and means `always`.
        let syncName = try config.string("maildir_sync")
        guard let sync = MaildirSync.named(syncName, group: nil) else {
            throw DeliveryStatus(.configurationError, "configuration error",
                                 reason: "configuration error: \(config.error("maildir_sync", "bad maildir_sync \"\(syncName)\"; expected always, group or none"))")
        }
        let quota: QuotaPolicy
        do {
            quota = try QuotaPolicy(configuration: config)
        } catch {
            throw DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)")
        }
        let mailbox = try Mailbox.forTarget(target, hostName: myhostname, sync: sync, sender: tx.envelope.sender,
                                            quota: quota, address: tx.recipients.first?.address ?? "")
        // Forwards, commands and files need the outbound transport and command settings; a
        // message that is only stored does not read them (as local(8) ignores the relay's).
        let needsContext = tx.pendingIndices.contains { i in
            tx.recipients[i].effectiveActions.contains {
                switch $0 {
                case .store, .discard: false
                case .redirect, .send, .pipe, .file: true
                }
            }
        }
        var actionContext: ActionContext?
        if needsContext {
            do {
                actionContext = try ActionContext(configuration: config, sender: tx.envelope.sender, user: target.user)
            } catch {
                throw DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)")
            }
        }
        for i in tx.pendingIndices {
            tx.recipients[i].state = Self.store(tx.recipients[i], message: tx.message, mailbox: mailbox, logger: logger,
                                                actions: actionContext)
        }
        let done = Timestamp.now()

        // 8. Log and exit code.
        let r = tx.recipients[0]
        let status = r.state.status ?? .unexpected(DeliveryStatus(.temporaryFailure, "no outcome"), while: "delivering")
        log.log(Maillog.recipientLine(
            queueID: tx.queueID, to: r.address, originalTo: r.originalAddress, relay: "local",
            delay: done.seconds(since: start),
            delays: (received.seconds(since: start), chained.seconds(since: received), 0, done.seconds(since: chained)),
            status: status, outcome: Maillog.outcome(r.state)))
        return (DeliverOutcome(exitCode: SysExit.forStatus(status.status), status: status), log)
    }

    /// Where a recipient's copies are written.
    public enum Mailbox: Sendable {
        case maildir(Maildir)
        case mbox(MboxAppender, sender: String)

        /// The store for a resolved target, with the recipient's quota when a policy is given.
        public static func forTarget(_ target: MailboxTarget, hostName: String, sync: MaildirSync, sender: String,
                                     quota: QuotaPolicy? = nil, address: String = "") throws(DeliveryStatus) -> Mailbox {
            switch target.format {
            case .maildir:
                var maildir = Maildir(path: target.path, hostName: hostName, sync: sync)
                if let quota {
                    maildir.quota = try quota.maildirQuota(root: maildir.path, address: address, user: target.user?.name)
                    maildir.messageSizeLimit = quota.sizeLimit
                    maildir.quotaExceeded = quota.exceeded
                }
                return .maildir(maildir)
            case .mbox:
                var mbox = MboxAppender(path: target.path)
                if let quota {
                    mbox.sizeLimit = quota.sizeLimit
                    mbox.sizeExceeded = quota.exceeded
                }
                return .mbox(mbox, sender: sender)
            }
        }
    }

    /// Carries out one recipient's actions; the first failure decides (temporary, so the MTA
    /// retries the whole delivery). Shared by `mdad deliver` and the LMTP server.
    public static func store(_ r: Recipient, message original: Message, mailbox: Mailbox?, logger: Logger,
                             actions context: ActionContext? = nil) -> RecipientState {
        let message = r.replacedMessage?.message ?? original
        do {
            switch mailbox {
            case .maildir(let m): try MailboxSafety.check(m.path)
            case .mbox(let m, _): try MailboxSafety.check(m.path)
            case nil: break
            }
        } catch {
            return .deferred(error)
        }
        var folders: [String] = []
        var others: [String] = []
        for action in r.effectiveActions {
            switch action {
            case .discard:
                continue
            case .redirect, .send, .pipe, .file:
                guard let context else {
                    return .deferred(DeliveryStatus(.configurationError, "configuration error",
                                                    reason: "\(r.address): no outbound or command set-up for \(action)"))
                }
                do {
                    others.append(try context.carryOut(action, for: r, message: message))
                } catch {
                    return error.status.isTemporary ? .deferred(error) : .rejected(error)
                }
            case .store(let folder, let flags):
                switch mailbox {
                case nil:
                    return .deferred(DeliveryStatus(.temporaryFailure, "no mailbox for \(r.address)",
                                                    reason: "\(r.address): a store was asked for, but the recipient has no mailbox"))
                case .maildir(let maildir):
                    var target = folder
                    if let f = folder, (try? maildir.folderPath(f)) == nil {
                        // dovecot-lda files into INBOX when the requested mailbox cannot be used.
                        logger.warning("\(r.address): invalid folder name \"\(f)\"; delivering to INBOX")
                        target = nil
                    }
                    do {
                        _ = try maildir.deliver(message, prepending: r.headerAdditions, folder: target, flags: flags)
                        folders.append(target ?? "INBOX")
                    } catch let s as DeliveryStatus {
                        return Self.mailboxFailure(s)
                    } catch {
                        return .deferred(.unexpected(error, while: "writing to maildir"))
                    }
                case .mbox(let mbox, let sender):
                    // An mbox has no folders: every copy goes to the one file.
                    if let f = folder { logger.warning("\(r.address): folder \"\(f)\" requested for an mbox mailbox; delivering to \(mbox.path)") }
                    guard !folders.contains("mailbox") else { continue }
                    do {
                        try mbox.append(message, prepending: r.headerAdditions, sender: sender)
                        folders.append("mailbox")
                    } catch {
                        return Self.mailboxFailure(error)
                    }
                }
            }
        }
        if folders.isEmpty && others.isEmpty {
            return .delivered(DeliveryStatus(.delivered, "discarded"))
        }
        var done = others
        if !folders.isEmpty {
            if case .mbox = mailbox {
                done.insert("delivered to mailbox", at: 0)
            } else {
                let whereTo = folders == ["INBOX"] ? "" : " folder " + folders.joined(separator: ",")
                done.insert("delivered to maildir\(whereTo)", at: 0)
            }
        }
        return .delivered(DeliveryStatus(.delivered, done.joined(separator: "; ")))
    }

    /// A mailbox write that failed: temporary, except a full mailbox when the administrator
    /// asked for bounces (`quota_full_tempfail = no`, 5.2.2).
    static func mailboxFailure(_ s: DeliveryStatus) -> RecipientState {
        if s.status.isTemporary { return .deferred(s) }
        if s.status.subject == 2 && s.status.detail == 2 { return .rejected(s) }
        return .deferred(DeliveryStatus(.temporaryFailure, s.text, reason: s.reason))
    }

    /// `maillog_file` when set; else `maillog_destination` (stderr or syslog with `syslog_facility`).
    public static func logDestination(_ config: Configuration) throws(ConfigError) -> Maillog.Destination {
        let file = try config.string("maillog_file")
        if !file.isEmpty { return .file(file) }
        switch try config.string("maillog_destination").lowercased() {
        case "stderr": return .standardError
        case "syslog":
            let name = try config.string("syslog_facility")
            guard let facility = Maillog.facility(named: name) else {
                throw config.error("syslog_facility", "bad syslog_facility \"\(name)\"; expected mail, user, daemon, auth or local0 … local7")
            }
            return .syslog(facility: facility)
        case let other:
            throw config.error("maillog_destination", "bad maillog_destination \"\(other)\"; expected stderr or syslog")
        }
    }

    /// The final recipient: `-r`, else `-a`, else the user at `myhostname`.
    static func finalAddress(_ options: DeliverOptions, target: MailboxTarget, myhostname: String) -> String {
        if let a = options.finalRecipient ?? options.originalRecipient { return Envelope.normalize(a) }
        return target.kind == .virtual ? target.owner : "\(target.owner)@\(myhostname)"
    }

    /// `-d USER` names a system user (dovecot-lda's meaning). Without it, a recipient in
    /// `virtual_mailbox_domains` has a virtual mailbox; anyone else is the user in `USER` with
    /// `HOME` (what Postfix's `mailbox_command` sets), else the passwd entry of the running user.
    func resolveMailbox(_ options: DeliverOptions, resolver: MailboxResolver, myhostname: String) throws(DeliveryStatus) -> MailboxTarget {
        for a in [options.finalRecipient, options.originalRecipient].compactMap({ $0 }) where !Self.isSafeAddress(a) {
            throw DeliveryStatus(EnhancedStatus(5, 1, 3), "bad recipient address syntax")
        }
        do {
            if let name = options.destinationUser {
                guard let user = try LocalUser.lookup(name: name) else {
                    // The static program knows only /etc/passwd; NSS may know more.
                    StaticNSS.handOffIfStatic(reason: "user \"\(name)\" is not in /etc/passwd")
                    throw DeliveryStatus(.unknownUser, "unknown user: \"\(name)\"")
                }
                return try resolver.systemMailbox(user)
            }
            if let address = (options.finalRecipient ?? options.originalRecipient).map(Envelope.normalize),
               try resolver.isVirtual(address) {
                return try resolver.virtualMailbox(address)
            }
            if let name = Posix.environment("USER"), let home = Posix.environment("HOME"), !name.isEmpty, !home.isEmpty,
               let me = try LocalUser.lookup(uid: geteuid()), me.name == name || geteuid() != 0 {
                return try resolver.systemMailbox(LocalUser(name: name, uid: me.uid, gid: me.gid, home: home))
            }
            guard let me = try LocalUser.lookup(uid: geteuid()) else {
                StaticNSS.handOffIfStatic(reason: "user ID \(geteuid()) is not in /etc/passwd")
                throw DeliveryStatus(.unknownUser, "unknown user ID \(geteuid())")
            }
            return try resolver.systemMailbox(me)
        } catch let s as DeliveryStatus {
            throw s
        } catch let e as TableError {
            throw DeliveryStatus(.temporaryFailure, "table lookup failure", reason: "table lookup failure: \(e)")
        } catch {
            throw DeliveryStatus(.temporaryFailure, "user database unavailable", reason: "user lookup failed: \(error)")
        }
    }

    func envelopeSender(_ options: DeliverOptions, message: Message) throws -> String {
        let sender: String
        if let f = options.sender {
            sender = Envelope.normalize(f)
        } else if let rp = message.header["Return-Path"] {
            sender = Envelope.normalize(rp.value)
        } else {
            sender = ""
        }
        guard Self.isSafeAddress(sender) else {
            throw DeliveryStatus(EnhancedStatus(5, 1, 7), "bad sender address syntax")
        }
        return sender
    }

    /// Addresses go into headers and log lines: no control characters, no angle brackets inside.
    static func isSafeAddress(_ a: String) -> Bool {
        let inner = Envelope.normalize(a)
        return inner.utf8.count <= 1024
            && !inner.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "<" || $0 == ">" }
    }

}

extension String {
    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

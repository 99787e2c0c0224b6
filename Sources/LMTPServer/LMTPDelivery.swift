#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOPosix
import Pipeline
import Plugins
import Spam

/// What the LMTP server does with recipients and messages: the same lookups and the same
/// chain and Maildir store as `mdad deliver`, for many recipients per message.
public struct LMTPDelivery: Sendable {
    public let configuration: Configuration
    public let chain: Chain
    public let resolver: MailboxResolver
    public let log: Maillog
    public let hostName: String
    /// Passed to child deliveries (`mdad deliver -c`).
    let configDirectory: String?
    let sync: MaildirSync
    /// `mydestination` and `recipient_delimiter`, expanded once rather than at every RCPT.
    let localDomains: Set<String>
    let recipientDelimiter: String
    /// Where blocking file work runs (never on an event loop, never on Swift's small
    /// cooperative pool, which would serialise concurrent fsyncs).
    let pool: NIOThreadPool?
    /// The `aliases` stage when the pipeline has one: RCPT accepts alias names, and delivery
    /// finds the mailboxes of the recipients it expands into.
    let aliases: AliasesStage?
    /// The `srs` stage when the pipeline has one: RCPT checks bounces to our SRS addresses
    /// (a forged or expired one is refused before the data is sent) and the chain reverses them.
    let srs: SRSConfiguration?
    /// Quotas, checked at RCPT time (a full mailbox is refused before the data is sent) and
    /// at delivery.
    let quota: QuotaPolicy
    /// `lmtp_privilege_mode = fsuid`: a root daemon writes other users' mailboxes from its
    /// own threads under their file-system identity; `process`: through a child per copy.
    let fsidentity: Bool

    /// How an accepted recipient is reached: its mailbox, known at RCPT time, or an alias the
    /// chain expands.
    public enum Route: Sendable, Equatable {
        case mailbox(MailboxTarget)
        case alias
    }

    public init(configuration: Configuration, registry: StageRegistry = .builtin, log: Maillog,
                group: GroupSync? = nil, pool: NIOThreadPool? = nil, configDirectory: String? = nil) throws {
        self.configuration = configuration
        self.configDirectory = configDirectory
        self.chain = try registry.makeChain(configuration)
        self.resolver = try MailboxResolver(configuration)
        self.log = log
        self.hostName = try configuration.string("myhostname")
        let name = try configuration.string("maildir_sync")
        guard let sync = MaildirSync.named(name, group: group) else {
            throw configuration.error("maildir_sync", "bad maildir_sync \"\(name)\"; expected always, group or none")
        }
        self.sync = sync
        self.pool = pool
        self.localDomains = Set(try configuration.list("mydestination").map { $0.lowercased() })
        self.recipientDelimiter = try configuration.string("recipient_delimiter")
        self.aliases = chain.steps.lazy.compactMap { $0.stage as? AliasesStage }.first
        self.srs = chain.steps.lazy.compactMap { ($0.stage as? SRSStage)?.configuration }.first
        self.quota = try QuotaPolicy(configuration: configuration)
        let mode = try configuration.string("lmtp_privilege_mode")
        guard mode == "fsuid" || mode == "process" else {
            throw configuration.error("lmtp_privilege_mode", "bad lmtp_privilege_mode \"\(mode)\"; expected fsuid or process")
        }
        self.fsidentity = mode == "fsuid"
    }

    /// A copy for a mailbox root does not own, written by this thread as its owner.
    static func storeAsOwner(_ r: Recipient, message: Message, target: MailboxTarget, hostName: String, sync: MaildirSync,
                             sender: String, quota: QuotaPolicy, logger: Logger, actions: ActionContext) -> RecipientState {
        do {
            if target.format == .mbox { try MboxSpool.prepare(target.path, uid: target.uid, gid: target.gid) }
            return try FSIdentity.perform(uid: target.uid, gid: target.gid) {
                let mailbox: LocalDeliveryAgent.Mailbox
                do {
                    mailbox = try LocalDeliveryAgent.Mailbox.forTarget(target, hostName: hostName, sync: sync, sender: sender,
                                                                       quota: quota, address: r.address)
                } catch let e as DeliveryStatus {
                    return e.status.isTemporary ? .deferred(e) : .rejected(e)
                } catch {
                    return .deferred(.unexpected(error, while: "opening the mailbox"))
                }
                var userActions = actions
                userActions.user = target.user
                return LocalDeliveryAgent.store(r, message: message, mailbox: mailbox, logger: logger, actions: userActions)
            }
        } catch let s as DeliveryStatus {
            return .deferred(s)
        } catch {
            return .deferred(DeliveryStatus(.temporaryFailure, "cannot switch to the mailbox owner",
                                            reason: "\(target.owner): \(error)"))
        }
    }

    /// Whether the address is in a domain this server delivers (mydestination or a virtual
    /// mailbox domain); an address without a domain is local.
    public func handles(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return true }
        if localDomains.contains(address[address.index(after: at)...].lowercased()) { return true }
        return (try? resolver.isVirtual(address)) ?? true
    }

    /// RCPT TO: an alias the chain expands, else the recipient's mailbox, or why not.
    /// `quota: false` asks only whether the recipient exists (the socketmap's question).
    public func check(_ address: String, quota checkQuota: Bool = true) -> (LMTPSession.RecipientCheck, Route?) {
        if let srs, srs.isOurs(address) {
            do {
                _ = try srs.srs.reverse(address)
                return (.accept, .alias)
            } catch {
                log.log("srs_reverse: <\(address)> refused: \(error)")
                return (.refuse(error.status), nil)
            }
        }
        if let aliases {
            do {
                if try aliases.isAlias(address) { return (.accept, .alias) }
            } catch {
                return (.refuse(error.status.isSuccess ? DeliveryStatus(.temporaryFailure, error.text) : error), nil)
            }
        }
        let (verdict, target) = checkMailbox(address)
        // RCPT-time quota: a mailbox already full is refused before the message is sent.
        if checkQuota, let target, target.format == .maildir {
            do {
                if let q = try quota.maildirQuota(root: target.path, address: address, user: target.user?.name), try q.isFull() {
                    return (.refuse(quota.exceeded), nil)
                }
            } catch let s as DeliveryStatus {
                return (.refuse(s.status.isSuccess ? DeliveryStatus(.temporaryFailure, s.text) : s), nil)
            } catch {
                return (.refuse(DeliveryStatus(.temporaryFailure, "cannot read quota", reason: "\(target.path)/maildirsize: \(error)")), nil)
            }
        }
        // spam_feedback watches the Maildirs the daemon delivers to (nothing when it is off).
        if let target, target.format == .maildir {
            let log = self.log
            SpamFeedbackWatcher.shared.note(maildir: target.path) { log.log($0) }
        }
        return (verdict, target.map(Route.mailbox))
    }

    /// The recipient's mailbox, or why not (550 5.1.1 unknown, 451 4.3.0 lookup failure).
    public func checkMailbox(_ address: String) -> (LMTPSession.RecipientCheck, MailboxTarget?) {
        do {
            if try resolver.isVirtual(address) {
                let target = try resolver.virtualMailbox(address)
                return (.accept, target)
            }
            // A local user: the local part (without an extension) in passwd.
            let delimiter = recipientDelimiter
            var local = address
            if let at = address.lastIndex(of: "@") {
                let domain = address[address.index(after: at)...].lowercased()
                guard localDomains.contains(domain) else {
                    return (.refuse(DeliveryStatus(.unknownUser, "User unknown in local recipient table",
                                                   reason: "\(address): domain not in mydestination or virtual_mailbox_domains")), nil)
                }
                local = String(address[..<at])
            }
            if !delimiter.isEmpty, let cut = local.firstIndex(where: { delimiter.contains($0) }), cut != local.startIndex {
                local = String(local[..<cut])
            }
            guard let user = try LocalUser.lookup(name: local.lowercased()) ?? LocalUser.lookup(name: local) else {
                return (.refuse(DeliveryStatus(.unknownUser, "User unknown in local recipient table")), nil)
            }
            return (.accept, try resolver.systemMailbox(user))
        } catch let s as DeliveryStatus {
            return (.refuse(s.status.isSuccess ? DeliveryStatus(.temporaryFailure, s.text) : s), nil)
        } catch let e as TableError {
            return (.refuse(DeliveryStatus(.temporaryFailure, "Temporary lookup failure", reason: "\(e)")), nil)
        } catch let e as ConfigError {
            return (.refuse(DeliveryStatus(.configurationError, "Temporary lookup failure", reason: "configuration error: \(e)")), nil)
        } catch {
            return (.refuse(DeliveryStatus(.temporaryFailure, "Temporary lookup failure", reason: "\(error)")), nil)
        }
    }

    /// The date as RFC 5322 section 3.3 writes it, with the zone's name as a comment, as
    /// Postfix writes it in trace fields: `Wed, 25 Nov 2026 01:12:20 +0000 (UTC)`.
    static func rfc5322Date() -> String {
        Posix.localTime(Int(time(nil)), format: "%a, %-d %b %Y %H:%M:%S %z (%Z)")
    }

    /// The Received field's value in the form Postfix's smtpd(8) writes:
    ///
    ///     from HELO (NAME [ADDRESS])
    ///     	by HOST (mdad) with LMTP id QUEUEID
    ///     	for <RECIPIENT>; DATE
    ///
    /// `client` is the session's `name[address]` (`local` for a UNIX socket, which Postfix
    /// writes as localhost [127.0.0.1]); without LHLO the client's name stands for it.
    static func receivedValue(helo: String, client: String, hostName: String, queueID: String,
                              recipient: String, date: String) -> String {
        var name = "localhost", address = "127.0.0.1"
        if client != "local", let open = client.lastIndex(of: "["), client.hasSuffix("]") {
            name = String(client[..<open])
            address = String(client[client.index(after: open)..<client.index(before: client.endIndex)])
        } else if client != "local" {
            name = client
            address = client
        }
        return "from \(helo.isEmpty ? name : helo) (\(name) [\(address)])\n"
            + "\tby \(hostName) (mdad) with LMTP id \(queueID)\n\tfor <\(recipient)>; \(date)"
    }

    /// Delivers a spooled message to the accepted recipients; one status per recipient, in order.
    public func deliver(_ envelope: LMTPSession.Envelope, spool: Spool, routes: [Route],
                       received: Timestamp, start: Timestamp) async -> [DeliveryStatus] {
        let message: Message
        do {
            message = try Message.parse(spool, limits: Message.Limits(fieldSize: try configuration.size("header_size_limit")))
        } catch {
            return envelope.recipients.map { _ in .unexpected(error, while: "reading the message") }
        }
        var recipients: [Recipient] = []
        let queueID = QueueID.make()
        let date = LMTPDelivery.rfc5322Date()
        for (i, r) in envelope.recipients.enumerated() {
            var owner: String?
            if i < routes.count, case .mailbox(let t) = routes[i] { owner = t.owner }
            var recipient = Recipient(address: r.address, originalAddress: r.originalRecipient ?? r.address, user: owner)
            recipient.envelopeIndex = i
            let plan = TraceHeaders.plan(for: message, sender: envelope.sender, recipient: r.address)
            if let loop = plan.loop {
                recipient.reject(loop)
            } else {
                // RFC 5321 section 4.4: a server that accepts a message adds a Received field;
                // LMTP inherits the rule (RFC 2033 section 4.3).
                let received = LMTPDelivery.receivedValue(helo: envelope.lhloName, client: envelope.client, hostName: hostName,
                                                          queueID: queueID, recipient: r.address, date: date)
                recipient.headerAdditions = plan.additions + [try? HeaderField(name: "Received", multilineValue: received)].compactMap { $0 }
            }
            recipients.append(recipient)
        }
        var tx = Transaction(queueID: queueID, envelope: Envelope(sender: envelope.sender), recipients: recipients,
                             message: message, arrival: start)
        tx.client = envelope.client
        var logger = Logger(label: "mdad") { _ in log.handler(label: "mdad") }
        logger[metadataKey: "queue_id"] = "\(tx.queueID)"
        log.log(Maillog.messageLine(queueID: tx.queueID, sender: envelope.sender, size: message.receivedSize,
                                    recipients: recipients.count))
        await chain.run(&tx, context: StageContext(logger: logger, configuration: configuration))
        let chained = Timestamp.now()
        if tx.envelope.sender != envelope.sender {
            for i in tx.recipients.indices {
                tx.recipients[i].headerAdditions = TraceHeaders.returnPath(tx.recipients[i].headerAdditions, sender: tx.envelope.sender)
            }
        }
        let (hostName, sync, storeLogger, configDirectory, quota) = (self.hostName, self.sync, logger, self.configDirectory, self.quota)
        let fsidentity = self.fsidentity
        // Each recipient's copy is written on the blocking pool, all at once: with group
        // commit their flushes are shared, so five recipients cost about one delivery's flushes.
        let config = configuration
        // The chain may have expanded recipients: find each final one's mailbox.
        var targets: [Int: MailboxTarget] = [:]
        for i in tx.pendingIndices {
            switch finalTarget(tx.recipients[i], envelope: envelope, routes: routes) {
            case .success(let t): if let t { targets[i] = t }
            case .failure(let status): tx.recipients[i].reject(status)
            }
        }
        let stored = tx
        let found = targets
        let store: @Sendable (Int) -> RecipientState = { i in
            guard let target = found[i] else {
                // Nothing of this recipient's touches a mailbox or runs as a user: forwards
                // and replies go out from here.
                do {
                    let actions = try ActionContext(configuration: config, sender: stored.envelope.sender, user: nil)
                    return LocalDeliveryAgent.store(stored.recipients[i], message: stored.message, mailbox: nil,
                                                    logger: storeLogger, actions: actions)
                } catch {
                    return .deferred(DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)"))
                }
            }
            let actions: ActionContext
            do {
                actions = try ActionContext(configuration: config, sender: stored.envelope.sender, user: target.user)
            } catch {
                return .deferred(DeliveryStatus(.configurationError, "configuration error", reason: "configuration error: \(error)"))
            }
            // Running as root, a mailbox root does not own is written by a child that becomes
            // its owner. Otherwise this process writes with its own identity, so mailboxes must
            // belong to the user mdad serve runs as (the usual one-vmail-user setup).
            if geteuid() == 0 && target.uid != 0 {
                let r = stored.recipients[i]
                // Files are written by this thread under the user's file-system identity (no
                // process per copy); commands start as the user through Subprocess.
                if !fsidentity {
                    return PrivilegedStore.store(r, sender: stored.envelope.sender, message: stored.message,
                                                 target: target, configDirectory: configDirectory, actions: actions)
                }
                return LMTPDelivery.storeAsOwner(r, message: stored.message, target: target, hostName: hostName, sync: sync,
                                                 sender: stored.envelope.sender, quota: quota, logger: storeLogger, actions: actions)
            }
            if geteuid() != target.uid {
                return .deferred(DeliveryStatus(.temporaryFailure, "mailbox owner mismatch",
                    reason: "mdad serve runs as uid \(geteuid()) but the mailbox of \(target.owner) belongs to uid \(target.uid); run mdad serve as that user, or deliver with mdad deliver"))
            }
            let mailbox: LocalDeliveryAgent.Mailbox
            do {
                mailbox = try LocalDeliveryAgent.Mailbox.forTarget(target, hostName: hostName, sync: sync, sender: stored.envelope.sender,
                                                                   quota: quota, address: stored.recipients[i].address)
            } catch let e as DeliveryStatus {
                return e.status.isTemporary ? .deferred(e) : .rejected(e)
            } catch {
                return .deferred(.unexpected(error, while: "finding the quota"))
            }
            return LocalDeliveryAgent.store(stored.recipients[i], message: stored.message, mailbox: mailbox, logger: storeLogger,
                                            actions: actions)
        }
        let pool = self.pool
        let states = await withTaskGroup(of: (Int, RecipientState).self) { tasks in
            for i in stored.pendingIndices {
                tasks.addTask {
                    guard let pool else { return (i, store(i)) }
                    do {
                        return (i, try await pool.runIfActive { store(i) })
                    } catch {
                        return (i, .deferred(DeliveryStatus(.temporaryFailure, "server shutting down")))
                    }
                }
            }
            var out: [Int: RecipientState] = [:]
            for await (i, state) in tasks { out[i] = state }
            return out
        }
        for (i, state) in states { tx.recipients[i].state = state }
        let done = Timestamp.now()
        var byEnvelope: [[Recipient]] = Array(repeating: [], count: envelope.recipients.count)
        for (stage, seconds) in tx.stageTimings { ServerMetrics.stage(stage, seconds: seconds) }
        for (index, r) in tx.recipients.enumerated() {
            ServerMetrics.delivery(status: Maillog.outcome(r.state), backend: ServerMetrics.backend(r, target: targets[index]))
            let status = r.state.status ?? DeliveryStatus(.temporaryFailure, "no outcome")
            log.log(Maillog.recipientLine(
                queueID: tx.queueID, to: r.address, originalTo: r.originalAddress, relay: envelope.client,
                delay: done.seconds(since: start),
                delays: (received.seconds(since: start), chained.seconds(since: received), 0, done.seconds(since: chained)),
                status: status, outcome: Maillog.outcome(r.state)))
            if byEnvelope.indices.contains(r.envelopeIndex) { byEnvelope[r.envelopeIndex].append(r) }
        }
        return byEnvelope.map(LMTPDelivery.combined)
    }

    /// One reply for an envelope recipient from the final recipients it expanded into: any
    /// deferral defers it (the MTA retries the whole expansion, as Postfix's local(8) does);
    /// otherwise one delivery makes it delivered (members refused for good are logged as
    /// bounced); else the first refusal.
    static func combined(_ finals: [Recipient]) -> DeliveryStatus {
        let states = finals.map(\.state)
        if let d = states.first(where: { if case .deferred = $0 { return true } else { return false } }) { return d.status! }
        let delivered = states.compactMap { s -> DeliveryStatus? in if case .delivered(let d) = s { return d } else { return nil } }
        if let first = delivered.first {
            return delivered.count == 1 ? first : DeliveryStatus(.delivered, "delivered to \(delivered.count) recipients")
        }
        return states.first?.status ?? DeliveryStatus(.temporaryFailure, "no outcome", reason: "no final recipient left")
    }

    /// The mailbox a final recipient is written to: the one found at RCPT time when the chain
    /// left the recipient as it was; else found now, by its user or its address. nil when the
    /// recipient's actions need no mailbox and no user (forwards, replies, discards).
    func finalTarget(_ r: Recipient, envelope: LMTPSession.Envelope, routes: [Route]) -> Result<MailboxTarget?, DeliveryStatus> {
        let i = r.envelopeIndex
        if routes.indices.contains(i), case .mailbox(let t) = routes[i], envelope.recipients.indices.contains(i),
           r.address == envelope.recipients[i].address, r.user == t.owner {
            return .success(t)
        }
        let needsUser = r.effectiveActions.contains {
            switch $0 {
            case .store, .pipe, .file: return true
            case .discard, .redirect, .send: return false
            }
        }
        guard needsUser else { return .success(nil) }
        if r.user == nil {
            let (verdict, target) = checkMailbox(r.address)
            if case .refuse(let status) = verdict { return .failure(status) }
            return .success(target)
        }
        do {
            guard let user = try LocalUser.lookup(name: r.user!) else {
                return .failure(DeliveryStatus(.unknownUser, "User unknown in local recipient table",
                                               reason: "\(r.address): no user \(r.user!) in passwd"))
            }
            return .success(try resolver.systemMailbox(user))
        } catch let s as DeliveryStatus {
            return .failure(s)
        } catch {
            return .failure(DeliveryStatus(.temporaryFailure, "Temporary lookup failure", reason: "\(error)"))
        }
    }
}

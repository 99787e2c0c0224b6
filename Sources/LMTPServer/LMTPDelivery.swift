#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOPosix
import Pipeline
import Plugins

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
    }

    /// RCPT TO: the recipient's mailbox, or why not (550 5.1.1 unknown, 451 4.3.0 lookup failure).
    public func check(_ address: String) -> (LMTPSession.RecipientCheck, MailboxTarget?) {
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
    public func deliver(_ envelope: LMTPSession.Envelope, spool: Spool, targets: [MailboxTarget],
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
            var recipient = Recipient(address: r.address, originalAddress: r.originalRecipient ?? r.address,
                                      user: i < targets.count ? targets[i].owner : nil)
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
        let stored = tx
        let (hostName, sync, storeLogger, configDirectory) = (self.hostName, self.sync, logger, self.configDirectory)
        // Each recipient's copy is written on the blocking pool, all at once: with group
        // commit their flushes are shared, so five recipients cost about one delivery's flushes.
        let store: @Sendable (Int) -> RecipientState = { i in
            let target = targets[i]
            // Running as root, a mailbox root does not own is written by a child that becomes
            // its owner. Otherwise this process writes with its own identity, so mailboxes must
            // belong to the user mdad serve runs as (the usual one-vmail-user setup).
            if geteuid() == 0 && target.uid != 0 {
                return PrivilegedStore.store(stored.recipients[i], sender: stored.envelope.sender, message: stored.message,
                                             target: target, configDirectory: configDirectory)
            }
            if geteuid() != target.uid {
                return .deferred(DeliveryStatus(.temporaryFailure, "mailbox owner mismatch",
                    reason: "mdad serve runs as uid \(geteuid()) but the mailbox of \(target.owner) belongs to uid \(target.uid); run mdad serve as that user, or deliver with mdad deliver"))
            }
            let mailbox = LocalDeliveryAgent.Mailbox.forTarget(target, hostName: hostName, sync: sync, sender: stored.envelope.sender)
            return LocalDeliveryAgent.store(stored.recipients[i], message: stored.message, mailbox: mailbox, logger: storeLogger)
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
        return tx.recipients.map { r in
            let status = r.state.status ?? DeliveryStatus(.temporaryFailure, "no outcome")
            log.log(Maillog.recipientLine(
                queueID: tx.queueID, to: r.address, originalTo: r.originalAddress, relay: envelope.client,
                delay: done.seconds(since: start),
                delays: (received.seconds(since: start), chained.seconds(since: received), 0, done.seconds(since: chained)),
                status: status, outcome: Maillog.outcome(r.state)))
            return status
        }
    }
}

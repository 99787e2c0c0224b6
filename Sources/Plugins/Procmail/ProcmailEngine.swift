#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// procmail as a rules engine of the `rules` stage: the user's `~/.procmailrc` (after the
/// global rc, when one is configured) runs with the user's home and name, and each delivering
/// action is recorded as a ``RecipientAction`` for the delivery backends (see
/// ``ProcmailRecordingDelivery`` and docs/procmail.md for what differs from `mdad procmail`).
public struct ProcmailEngine: RulesEngine {
    public static let parameters: [ParameterDeclaration] = [
        .init("procmail_user_rc", .string, default: "~/.procmailrc",
              "The procmailrc the procmail rules engine runs for each user (~/ is the user's home)."),
        .init("procmail_global_rc", .string, default: "",
              "An rc the procmail rules engine runs before the user's own, as procmail reads /etc/procmailrc; empty for none."),
    ]

    let userRC: String
    let globalRC: String
    let commandTimeout: Double
    let hostName: String
    let cache = ProcmailRCCache()

    init(userRC: String, globalRC: String, commandTimeout: Double, hostName: String) {
        self.userRC = userRC
        self.globalRC = globalRC
        self.commandTimeout = commandTimeout
        self.hostName = hostName
    }

    public init(configuration config: Configuration) throws {
        userRC = try config.string("procmail_user_rc")
        globalRC = try config.string("procmail_global_rc")
        commandTimeout = Double(try config.seconds("command_time_limit"))
        hostName = try config.string("myhostname")
    }

    func userRCPath(_ user: RulesUser) -> String? {
        if userRC.hasPrefix("~/") {
            guard let home = user.home else { return nil }
            return home + userRC.dropFirst(1)
        }
        return userRC.isEmpty ? nil : userRC
    }

    public func hasUserScript(for user: RulesUser) -> Bool {
        guard let p = userRCPath(user) else { return false }
        return Posix.exists(p)
    }

    public func run(_ recipient: inout Recipient, of transaction: Transaction, user: RulesUser,
                    userScript: Bool, context: StageContext) async throws -> StageVerdict {
        guard userScript, let path = userRCPath(user) else { return .continue }
        // A root daemon reads the user's rc, and writes its LOGFILE and lockfiles, as the user
        // (this thread's file-system identity), as procmail does having become the user.
        let asUser = geteuid() == 0 && user.uid != 0
        func asTheUser<T>(_ body: () throws -> T) throws -> T {
            guard asUser else { return try body() }
            return try FSIdentity.perform(uid: user.uid, gid: user.gid, body)
        }
        var rcs: [ProcmailRC] = []
        do {
            if !globalRC.isEmpty, Posix.exists(globalRC) { rcs.append(try cache.load(globalRC)) }
            rcs.append(try asTheUser { try cache.load(path) })
        } catch {
            // A missing or unreadable rc falls back to DEFAULT (the implicit keep), as procmail does.
            context.logger.warning("\(recipient.address): procmail: \(error); delivering to the mailbox")
            return .continue
        }
        // The message as procmail would get it from Postfix: a From_ line, the fields this
        // recipient gets (Delivered-To …), then the message.
        let message = recipient.message(in: transaction)
        guard message.receivedSize <= ProcmailMail.maximumSize else {
            context.logger.warning("\(recipient.address): procmail: message larger than \(ProcmailMail.maximumSize) bytes; delivering to the mailbox")
            return .continue
        }
        var sink = BufferSink()
        try message.write(prepending: recipient.headerAdditions, to: &sink)
        let original = sink.bytes
        var mail = ProcmailMail(original)
        let sender = transaction.envelope.sender
        mail.setFromLine(sender: sender.isEmpty ? "MAILER-DAEMON" : sender, date: transaction.arrival.seconds)

        let delivery = ProcmailRecordingDelivery(defaultMailbox: user.mailbox?.path)
        let interpreter = ProcmailInterpreter(
            mail: mail, variables: variables(for: user, sender: sender, recipient: recipient),
            arguments: [], delivery: delivery, limits: limits(), logToStandardError: false,
            ownsProcess: false, loader: { try cache.load($0) })
        // Commands run as the user. A root daemon starts each one through Subprocess as the
        // user's passwd entry (uid, gid, groups), never as root; an unprivileged one (mdad
        // deliver having become the user, or one vmail user for all) runs them as itself, and
        // so does root for root's own rc (as `procmail -d root` does).
        if asUser {
            switch commandIdentity(for: user) {
            case .success(let identity): interpreter.commandIdentity = identity
            case .failure(let s):
                context.logger.warning("\(recipient.address): procmail: \(s.reason)")
                recipient.defer(s)
                return .continue
            }
        }
        let outcome: ProcmailOutcome
        do {
            outcome = try asTheUser { interpreter.run(rcs) }
        } catch {
            let s = DeliveryStatus(.temporaryFailure, "cannot switch to the user", reason: "procmail rc of \(user.name): \(error)")
            context.logger.warning("\(recipient.address): procmail: \(s.reason)")
            recipient.defer(s)
            return .continue
        }
        for t in outcome.trace {
            context.logger.debug("\(recipient.address): procmail: \(t.file), line \(t.line): \(t.text)")
            recipient.trace(.match, t.text, in: transaction, file: t.file, line: t.line)
        }

        if outcome.exitCode != 0 {
            let (status, text) = SysExit.meaning(ofExitCode: outcome.exitCode)
            let s = DeliveryStatus(status, "procmail rc exited \(outcome.exitCode)", reason: "\(path): EXITCODE \(outcome.exitCode) (\(text))")
            if status.isTemporary { recipient.defer(s) } else if status.isPermanent { recipient.reject(s) }
            if !status.isTemporary && !status.isPermanent { recipient.actions += delivery.actions }
            return .continue
        }
        if outcome.mail.bytes != mail.bytes {
            // A filter changed the mail: this recipient's copies are made from the new one, which
            // already carries the added fields.
            var replaced = try Message.parse(Spool(bytes: outcome.mail.withoutFromLine))
            replaced.verbatim = true   // stored as procmail stores a filter's output
            recipient.replacedMessage = ReplacedMessage(replaced)
            recipient.headerAdditions = []
        }
        recipient.actions += delivery.actions
        if delivery.actions.isEmpty {
            // DELIVERED=yes, or HOST naming another host: procmail reports success having
            // delivered nothing.
            recipient.actions = [.discard]
        }
        return .continue
    }

    /// The identity a root daemon runs `user`'s commands as: a system user's passwd entry (its
    /// uid must be the one delivered to). A user without one gets a temporary error: the rc's
    /// commands would otherwise run as nobody in particular, or as root.
    func commandIdentity(for user: RulesUser) -> Result<Subprocess.Identity, DeliveryStatus> {
        let entry: LocalUser?
        do { entry = try LocalUser.lookup(name: user.name) } catch {
            return .failure(DeliveryStatus(.temporaryFailure, "cannot read the user database", reason: "passwd lookup of \(user.name): \(error)"))
        }
        guard let entry, entry.uid == user.uid else {
            return .failure(DeliveryStatus(.temporaryFailure, "no passwd entry to run procmail commands as",
                reason: "refusing to run the procmail rc of \(user.name) (uid \(user.uid)) as root: no passwd entry with that name and uid"))
        }
        return .success(Subprocess.Identity(uid: entry.uid, gid: user.gid, initGroups: true))
    }

    func limits() -> ProcmailInterpreter.Limits {
        var l = ProcmailInterpreter.Limits()
        l.commandTimeout = commandTimeout > 0 ? commandTimeout : 960
        return l
    }

    func variables(for user: RulesUser, sender: String, recipient: Recipient) -> [String: String] {
        let home = user.home ?? "/"
        let local = LocalUser(name: user.name, uid: user.uid, gid: user.gid, home: home)
        var vars = ProcmailCommand.defaultVariables(user: local, shell: "/bin/sh", mailFilter: false, workingDirectory: home)
        let mailbox = user.mailbox.map { $0.format == .maildir ? $0.path + "/" : $0.path } ?? "\(home)/Maildir/"
        vars["DEFAULT"] = mailbox
        vars["ORGMAIL"] = mailbox
        vars["HOST"] = hostName
        vars["SENDER"] = sender
        vars["RECIPIENT"] = recipient.address
        return vars
    }
}

/// Compiled rc files by path, kept until the file changes (its size or modification time).
final class ProcmailRCCache: @unchecked Sendable {
    private let entries = Locked<[String: (mtime: Int, size: Int, rc: ProcmailRC)]>([:])

    func load(_ path: String) throws -> ProcmailRC {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SystemError("stat", path: path) }
        let mtime = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
        let size = Int(st.st_size)
        if let e = entries.withLock({ $0[path] }), e.mtime == mtime, e.size == size { return e.rc }
        let rc = try ProcmailCommand.load(path)
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[path] = (mtime, size, rc)
        }
        return rc
    }
}

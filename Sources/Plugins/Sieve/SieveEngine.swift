#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Sieve as a rules engine: finds the user's scripts where Dovecot's settings say, runs
/// `sieve_before`, the user's script (or `sieve_default`) and `sieve_after` in sequence, and
/// turns the result into recipient actions.
public struct SieveEngine: RulesEngine {
    public static let parameters: [ParameterDeclaration] = [
        .init("sieve", .string, default: "~/.dovecot.sieve",
              "The user's Sieve script (Dovecot's name); ~ is the user's home, %u the user, %n the local part, %d the domain."),
        .init("sieve_dir", .string, default: "~/sieve",
              "The directory of the user's scripts that include :personal names."),
        .init("sieve_before", .list, default: "",
              "Sieve scripts run before the user's script, in order."),
        .init("sieve_after", .list, default: "",
              "Sieve scripts run after the user's script, in order, while the implicit keep is in force."),
        .init("sieve_default", .string, default: "",
              "The Sieve script run for users who have none of their own."),
        .init("sieve_global", .string, default: "",
              "The directory of the scripts that include :global names."),
        .init("sieve_max_redirects", .integer, default: "4",
              "The most redirect actions one Sieve run may take."),
        .init("sieve_max_actions", .integer, default: "32",
              "The most actions one Sieve run may take."),
        .init("sieve_include_max_nesting_depth", .integer, default: "10",
              "How deeply Sieve includes may nest."),
        .init("sieve_max_steps", .integer, default: "1000000",
              "The most commands and tests one Sieve run may evaluate; past it the run fails and the implicit keep applies."),
        .init("sieve_max_cpu_time", .time, default: "30s",
              "The longest one Sieve run may take (wall clock); past it the run fails and the implicit keep applies."),
        .init("sieve_vacation_min_period", .time, default: "1d",
              "The shortest period between two vacation replies to one sender."),
        .init("sieve_vacation_max_period", .time, default: "60d",
              "The longest period a vacation :days or :seconds may ask for."),
        .init("sieve_vacation_default_period", .time, default: "7d",
              "The vacation period when a script names none."),
        .init("sieve_response_store", .string, default: "~/.sieve-responses",
              "The per-user file that remembers vacation replies and duplicate messages."),
    ]

    let userScript: String
    let personalDir: String
    let before: [String]
    let after: [String]
    let defaultScript: String
    let globalDir: String
    let storePath: String
    let limits: SieveLimits
    let hostName: String
    let cache = SieveScriptCache()

    public init(configuration config: Configuration) throws(ConfigError) {
        userScript = try config.string("sieve")
        personalDir = try config.string("sieve_dir")
        before = try config.list("sieve_before")
        after = try config.list("sieve_after")
        defaultScript = try config.string("sieve_default")
        globalDir = try config.string("sieve_global")
        storePath = try config.string("sieve_response_store")
        hostName = try config.string("myhostname")
        limits = try SieveLimits(configuration: config)
    }

    /// Dovecot-style expansion: `~` the home, `%u` user, `%n` local part, `%d` domain, `%%`.
    static func expand(_ path: String, for user: RulesUser) -> String? {
        var p = path
        if p.hasPrefix("~") {
            guard let home = user.home else { return nil }
            p = home + p.dropFirst()
        }
        guard p.contains("%") else { return p }
        var out = ""
        var it = p.makeIterator()
        while let c = it.next() {
            guard c == "%" else { out.append(c); continue }
            switch it.next() {
            case "u": out += user.name
            case "n": out += user.localPart
            case "d": out += user.domain
            case "%": out += "%"
            default: return nil
            }
        }
        // A user-controlled name never walks out of its directory.
        if out.split(separator: "/").contains("..") { return nil }
        return out
    }

    static func isFile(_ path: String, ownedBy owner: uid_t? = nil) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        return owner.map { st.st_uid == $0 } ?? true
    }

    /// The user's own script. Running as root (the LMTP server), only a file the user owns is
    /// read: a link from the home directory to a file of root's is not followed into a log.
    func personalScript(for user: RulesUser) -> String? {
        guard let p = Self.expand(userScript, for: user), !userScript.isEmpty,
              Self.isFile(p, ownedBy: geteuid() == 0 ? user.uid : nil) else { return nil }
        return p
    }

    public func hasUserScript(for user: RulesUser) -> Bool {
        personalScript(for: user) != nil || (!defaultScript.isEmpty && Self.isFile(defaultScript))
    }

    func includes(for user: RulesUser) -> SieveIncludeLocations {
        SieveIncludeLocations(personal: Self.expand(personalDir, for: user), global: globalDir.isEmpty ? nil : globalDir,
                              personalOwner: geteuid() == 0 ? user.uid : nil)
    }

    public func run(_ recipient: inout Recipient, of transaction: Transaction, user: RulesUser,
                    userScript: Bool, context: StageContext) async throws -> StageVerdict {
        var paths = before
        if userScript, let p = personalScript(for: user) ?? (defaultScript.isEmpty ? nil : defaultScript) { paths.append(p) }
        paths += after
        guard !paths.isEmpty else { return .continue }
        let store = Self.expand(storePath, for: user).map { SieveResponseStore(path: $0, owner: (user.uid, user.gid)) }
        let now = Int(time(nil))
        var env = SieveEnvironment(sender: transaction.envelope.sender, recipient: recipient.address,
                                   originalRecipient: recipient.originalAddress,
                                   recipientDelimiter: context.configuration.rawValue("recipient_delimiter") ?? "+", now: now)
        env.limits = limits
        // keep stores into the default folder (`mdad deliver -m`); fileinto "INBOX" into INBOX.
        env.defaultMailbox = recipient.defaultFolder ?? "INBOX"
        if let mailbox = user.mailbox, mailbox.format == .maildir {
            let root = mailbox.path
            env.mailboxExists = { name in
                guard let dir = try? MaildirFolderName.directory(for: name) else { return false }
                return Posix.isDirectory(root + "/" + dir)
            }
        }
        if let store { env.duplicateSeen = { store.contains($0, now: now) } }

        var message = recipient.message(in: transaction)
        var combined = SieveResult()
        var ran = false
        for path in paths {
            let program: SieveProgram?
            do { program = try cache.program(at: path, includes: includes(for: user)) } catch {
                let more = error.more.isEmpty ? "" : " and \(error.more.count) more error\(error.more.count == 1 ? "" : "s")"
                context.logger.warning("sieve: \(error.description)\(more) (script \(path) skipped)")
                for e in error.all {
                    recipient.trace(.note, "script skipped: \(e.description)", in: transaction, file: path, line: e.line)
                }
                continue
            }
            guard let program else { continue }
            do {
                // The internal flags (imap4flags) carry from one script to the next, as in Pigeonhole.
                let interpreter = SieveInterpreter(program: program, message: message, environment: env)
                interpreter.flags = combined.implicitKeepFlags
                if transaction.tracing { interpreter.traceLog = [] }
                defer {
                    for step in interpreter.traceLog ?? [] {
                        recipient.trace(.match, step.text, in: transaction,
                                        file: step.script == program.main.name ? path : step.script, line: step.line)
                    }
                }
                var r = try interpreter.run()
                if let h = r.editedHeader { message.header = h; combined.editedHeader = h; combined.headerEdited = true }
                ran = true
                // As Pigeonhole runs a sequence: the next script runs while the message is
                // kept (implicitly or by an explicit keep), and that keep is then the next
                // script's to decide; `stop` ends only its own script.
                let keepIndex = r.actions.firstIndex { if case .store("INBOX", _, false, _) = $0 { return true } else { return false } }
                let keeps = r.implicitKeep || keepIndex != nil
                let last = path == paths.last
                if keeps, !last, let i = keepIndex { r.actions.remove(at: i) }
                combined.actions += r.actions
                combined.implicitKeep = r.implicitKeep || (!last && keeps)
                combined.implicitKeepFlags = r.implicitKeepFlags
                if !keeps { break }
            } catch {
                // RFC 5228 2.10.6: a run-time error keeps the message.
                context.logger.warning("sieve: \(SieveLoader.scriptName(path)): runtime error: \(error.description); the implicit keep applies")
                recipient.trace(.decision, "runtime error: \(error.description); the implicit keep applies", in: transaction, file: path)
                return .continue
            }
        }
        guard ran else { return .continue }
        apply(combined, to: &recipient, message: message, transaction: transaction, user: user, store: store, now: now, context: context)
        return .continue
    }

    /// Turns a result into actions the delivery backends carry out.
    func apply(_ r: SieveResult, to recipient: inout Recipient, message: Message, transaction: Transaction,
               user: RulesUser, store: SieveResponseStore?, now: Int, context: StageContext) {
        if r.headerEdited { recipient.replacedMessage = ReplacedMessage(message) }
        var actions: [RecipientAction] = []
        for a in r.actions {
            switch a {
            case .store(let folder, let flags, _, _):
                actions.append(.store(folder: deliverableFolder(folder, recipient, context), flags: SieveFlags.storable(SieveFlags.ordered(flags))))
            case .discard:
                break
            case .redirect(let to, _):
                actions.append(.redirect(to: to, sender: nil))
            case .reject(let reason, _):
                let text = reason.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).joined(separator: " ")
                recipient.reject(DeliveryStatus(EnhancedStatus(5, 7, 1), text.isEmpty ? "Rejected by Sieve" : text,
                                                reason: "rejected by sieve script"))
                return
            case .vacation(let v):
                if let m = SieveVacationReply.make(v, message: message, sender: transaction.envelope.sender, user: user,
                                                   recipient: recipient, hostName: hostName, store: store, now: now,
                                                   log: { context.logger.info("sieve: vacation: \($0)") }) {
                    actions.append(.send(m))
                }
            case .notify(let n):
                actions.append(.send(SieveVacationReply.notification(n, message: message, user: user, hostName: hostName, now: now)))
            case .trackDuplicate(let key, let seconds):
                try? store?.record(key, seconds: seconds, now: now)
            }
        }
        if r.implicitKeep {
            actions.append(.store(folder: recipient.defaultFolder, flags: SieveFlags.storable(SieveFlags.ordered(r.implicitKeepFlags))))
        }
        let delivers = actions.contains { if case .send = $0 { return false } else { return true } }
        if !delivers { actions.append(.discard) }
        recipient.actions += actions
    }

    /// INBOX is the recipient's default folder; a name that cannot be a Maildir++ folder falls
    /// back to it rather than failing the delivery (Dovecot does the same).
    func deliverableFolder(_ folder: String, _ r: Recipient, _ context: StageContext) -> String? {
        if SieveStrings.asciiUpper(folder) == "INBOX" { return nil }
        do {
            _ = try MaildirFolderName.directory(for: folder)
            return folder
        } catch {
            context.logger.warning("sieve: \(error.description); storing in the default folder instead")
            return r.defaultFolder
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// What the actions beyond the recipient's own mailbox need: the outbound transport for
/// redirects and replies, and the identity and limits for commands and files.
///
/// `mdad deliver` has already become the recipient when it carries these out, so commands run
/// as the recipient; the LMTP server running as root starts each command as the user
/// (``commandIdentity()``), or, with `lmtp_privilege_mode = process`, hands the recipient to a
/// child `mdad deliver` that becomes the user first (PrivilegedStore).
public struct ActionContext: Sendable {
    public var outbound: any OutboundTransport
    /// The envelope sender of the message (forwards keep it unless the action names another).
    public var sender: String
    public var hostName: String
    /// The user the commands and files belong to.
    public var user: LocalUser?
    public var commandTimeout: Double
    /// Postfix's `export_environment`-like base: PATH and friends for commands.
    public var path: String = "/usr/bin:/bin"
    public var recipientDelimiter: String = ""

    public init(outbound: any OutboundTransport, sender: String, hostName: String, user: LocalUser?,
                commandTimeout: Double, recipientDelimiter: String = "") {
        self.outbound = outbound
        self.sender = sender
        self.hostName = hostName
        self.user = user
        self.commandTimeout = commandTimeout
        self.recipientDelimiter = recipientDelimiter
    }

    /// The context for a configuration: `sendmail_path` (or mdad's own queue when it is the
    /// null client: `default_transport = smtp` or a `relayhost`), with the sender rewritten by SRS
    /// when `srs_domain` is set; `command_time_limit`, `recipient_delimiter`.
    public init(configuration config: Configuration, sender: String, user: LocalUser?) throws(ConfigError) {
        self.init(outbound: try SRSTransport.wrapping(try QueueTransport.configured(config), config), sender: sender,
                  hostName: try config.string("myhostname"), user: user,
                  commandTimeout: Double(try config.seconds("command_time_limit")),
                  recipientDelimiter: try config.string("recipient_delimiter"))
    }

    /// Carries out one action that is not a store into the recipient's mailbox; returns the
    /// words for the log line ("forwarded to …", "delivered to command: …").
    public func carryOut(_ action: RecipientAction, for r: Recipient, message: Message) throws(DeliveryStatus) -> String {
        switch action {
        case .redirect(let to, let from):
            try outbound.send(sender: from ?? sender, recipients: [to], prepending: r.headerAdditions, message: message)
            return "forwarded to \(to)"
        case .send(let outgoing):
            try outbound.send(outgoing)
            return "sent a message to \(outgoing.recipients.joined(separator: ","))"
        case .pipe(let command):
            try runCommand(command, for: r, message: message)
            return "delivered to command: \(command)"
        case .file(let path, let format):
            try appendFile(path, format: format, for: r, message: message)
            return "delivered to file: \(path)"
        case .store, .discard:
            return ""
        }
    }

    /// The environment Postfix's local(8) gives a command (SENDER, RECIPIENT, ORIGINAL_RECIPIENT,
    /// USER, HOME, SHELL, LOGNAME, LOCAL, DOMAIN, EXTENSION, PATH), and nothing of mdad's own.
    public func commandEnvironment(for r: Recipient) -> [String] {
        let at = r.address.lastIndex(of: "@")
        let local = at.map { String(r.address[..<$0]) } ?? r.address
        let domain = at.map { String(r.address[r.address.index(after: $0)...]) } ?? ""
        var env = ["PATH=\(path)", "LANG=C", "SENDER=\(sender)", "RECIPIENT=\(r.address)",
                   "ORIGINAL_RECIPIENT=\(r.originalAddress ?? r.address)", "LOCAL=\(local)", "DOMAIN=\(domain)"]
        if !recipientDelimiter.isEmpty, let d = local.firstIndex(where: { recipientDelimiter.contains($0) }) {
            env.append("EXTENSION=\(local[local.index(after: d)...])")
        }
        if let user {
            env += ["USER=\(user.name)", "LOGNAME=\(user.name)", "HOME=\(user.home)", "SHELL=/bin/sh"]
        }
        // A value with a control character never reaches a command's environment.
        return env.filter { !$0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }
    }

    /// Runs `/bin/sh -c command` with the message on standard input, as Postfix's local(8):
    /// exit 0 delivers; otherwise the sysexits meaning decides (75 defers, most others bounce);
    /// a timeout defers. Output starting with an enhanced status code gives that code.
    func runCommand(_ command: String, for r: Recipient, message: Message) throws(DeliveryStatus) {
        let prepend = r.headerAdditions
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(["/bin/sh", "-c", command], environment: commandEnvironment(for: r),
                                        options: .init(timeout: commandTimeout, outputLimit: 4096,
                                                       workingDirectory: user.flatMap { Posix.isDirectory($0.home) ? $0.home : nil },
                                                       identity: try commandIdentity())) { sink in
                // UNIX commands read lines ending in LF, as Postfix's local(8) gives them.
                var lf = LineFeedNormalizer(sink)
                try message.write(prepending: prepend, to: &lf)
                sink = lf.inner
            }
        } catch {
            throw DeliveryStatus(.temporaryFailure, "cannot run command", reason: "command \(command): \(error)")
        }
        if result.timedOut {
            throw DeliveryStatus(.temporaryFailure, "command time limit exceeded",
                                 reason: "command \(command): time limit of \(Int(commandTimeout))s exceeded")
        }
        guard let code = result.exitCode else {
            throw DeliveryStatus(.temporaryFailure, "command died with signal \(result.signal ?? 0)",
                                 reason: "command \(command): \(result.summary)")
        }
        if code == 0 { return }
        let output = String(decoding: (result.output + result.errorOutput).prefix(512), as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        var (status, text) = SysExit.meaning(ofExitCode: code)
        // "If the output begins with an enhanced status code, it is used" (local(8)).
        if let word = output.split(separator: " ").first, let given = EnhancedStatus(word),
           given.statusClass == status.statusClass {
            status = given
        }
        throw DeliveryStatus(status, "Command died with status \(code): \"\(command)\"" + (output.isEmpty ? "" : ". Command output: \(output)"),
                             reason: "command \(command): \(text) (exit status \(code))")
    }

    /// Who a command runs as. A root daemon whose delivery thread only switched its file-system
    /// identity starts the command as the user (their passwd entry's groups, or none for a
    /// virtual mailbox's numeric IDs); otherwise this process has already become the user.
    func commandIdentity() throws(DeliveryStatus) -> Subprocess.Identity? {
        guard geteuid() == 0, let user, user.uid != 0 else { return nil }
        let entry: LocalUser?
        do { entry = try LocalUser.lookup(uid: user.uid) } catch {
            throw DeliveryStatus(.temporaryFailure, "cannot read the user database", reason: "passwd lookup of uid \(user.uid): \(error)")
        }
        return Subprocess.Identity(uid: user.uid, gid: user.gid, initGroups: entry?.name == user.name)
    }

    /// Appends to a mailbox named by its path: an mbox file (locked, truncated back on failure),
    /// a Maildir, or an MH folder.
    func appendFile(_ path: String, format: FileFormat, for r: Recipient, message: Message) throws(DeliveryStatus) {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains(".."),
              !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw DeliveryStatus(.init(5, 3, 0), "bad file name", reason: "refusing to deliver to \"\(path)\": not an absolute path without .. and control characters")
        }
        switch format {
        case .mbox:
            do { try MailboxSafety.check(path) } catch { throw error }
            try MboxAppender(path: path).append(message, prepending: r.headerAdditions, sender: sender)
        case .maildir:
            do {
                try MailboxSafety.check(path)
                _ = try Maildir(path: path, hostName: hostName).deliver(message, prepending: r.headerAdditions)
            } catch let s as DeliveryStatus {
                throw s.status.isTemporary ? s : DeliveryStatus(.temporaryFailure, s.text, reason: s.reason)
            } catch {
                throw .unexpected(error, while: "writing to maildir \(path)")
            }
        case .mh:
            try MHFolder(path: path).deliver(message, prepending: r.headerAdditions)
        case .directory(let prefix):
            try MHFolder(path: path, uniquePrefix: prefix).deliver(message, prepending: r.headerAdditions)
        }
    }
}

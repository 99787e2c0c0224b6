#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims
import Pipeline
import Plugins

/// Per-recipient privilege separation for `mdad serve` running as root.
///
/// A multi-threaded process cannot switch user for one delivery, and writing into a user's
/// Maildir as root would create files the user cannot read (and let a user who owns the
/// Maildir point root's writes elsewhere). So, as Postfix's local(8) does with a process per
/// delivery, each copy for a mailbox that root does not own is written by a child
/// `mdad deliver` that becomes the mailbox owner before it touches anything. The child gets
/// the message as the chain left it, this recipient's header fields already on top (so it
/// adds no trace fields twice), and an empty pipeline (the chain has run).
enum PrivilegedStore {
    /// The path of the running mdad binary.
    static let executable: String = {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/bin/mdad"
    }()

    static func store(_ r: Recipient, sender: String, message original: Message, target: MailboxTarget,
                      configDirectory: String?, actions context: ActionContext) -> RecipientState {
        let message = r.replacedMessage?.message ?? original
        // Everything that touches the user's files or runs as the user goes to the child; what
        // goes out through sendmail (redirects, replies) is done here, after the child
        // succeeded, so a retry after a failed store does not send twice.
        var childActions: [String] = [], outbound: [RecipientAction] = []
        for action in r.effectiveActions {
            switch action {
            case .discard: continue
            case .redirect, .send: outbound.append(action)
            default:
                guard let encoded = ActionArgument.encode(action) else {
                    return .deferred(DeliveryStatus(.temporaryFailure, "cannot hand action to delivery process",
                                                    reason: "\(r.address): action \(action) has a tab or NUL in it"))
                }
                childActions.append(encoded)
            }
        }
        var done: [String] = []
        if !childActions.isEmpty {
            // The child's own log lines stay on its standard error (the daemon logs the
            // delivery once); only its status line is read.
            var args = [executable, "deliver", "-o", "pipeline=", "-o", "maillog_file=", "-o", "maillog_destination=stderr",
                        "-f", sender, "-r", r.address]
            if let o = r.originalAddress { args += ["-a", o] }
            if target.kind == .system { args += ["-d", target.owner] }
            if let configDirectory { args += ["-c", configDirectory] }
            for a in childActions { args += ["-A", a] }
            let status = run(args, message: message, prepend: r.headerAdditions)
            if !status.status.isSuccess { return status.status.isTemporary ? .deferred(status) : .rejected(status) }
            done.append(describe(r.effectiveActions.filter { if case .redirect = $0 { false } else if case .send = $0 { false } else { true } },
                                 mailbox: target.format))
        }
        for action in outbound {
            do {
                done.append(try context.carryOut(action, for: r, message: message))
            } catch {
                return error.status.isTemporary ? .deferred(error) : .rejected(error)
            }
        }
        return .delivered(DeliveryStatus(.delivered, done.isEmpty ? "discarded" : done.joined(separator: "; ")))
    }

    /// The words for the log line for what the child did.
    static func describe(_ actions: [RecipientAction], mailbox: MailboxFormat) -> String {
        var folders: [String] = [], others: [String] = []
        for action in actions {
            switch action {
            case .store(let folder, _): if !folders.contains(folder ?? "INBOX") { folders.append(folder ?? "INBOX") }
            case .pipe(let command): others.append("delivered to command: \(command)")
            case .file(let path, _): others.append("delivered to file: \(path)")
            case .discard, .redirect, .send: break
            }
        }
        if !folders.isEmpty {
            others.insert(mailbox == .mbox ? "delivered to mailbox"
                          : "delivered to maildir" + (folders == ["INBOX"] ? "" : " folder " + folders.joined(separator: ",")), at: 0)
        }
        return others.isEmpty ? "discarded" : others.joined(separator: "; ")
    }

    /// Runs the child with the message on its standard input; its exit code and the status
    /// line at the start of its standard error decide the outcome.
    static func run(_ args: [String], message: Message, prepend: [HeaderField]) -> DeliveryStatus {
        var input: [Int32] = [0, 0], errors: [Int32] = [0, 0]
        // Close-on-exec pipes: a child spawned at the same moment for another recipient must
        // not inherit this child's stdin, or this child would never see end of file.
        guard mdad_pipe_cloexec(&input) == 0, mdad_pipe_cloexec(&errors) == 0 else {
            return DeliveryStatus(.temporaryFailure, "cannot start delivery process", reason: "pipe: \(SystemError("pipe"))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        posix_spawn_file_actions_addclose(&actions, input[1])
        posix_spawn_file_actions_addclose(&actions, errors[0])
        // A clean environment: the child needs nothing from the daemon's.
        let env = ["PATH=/usr/bin:/bin", "LANG=C"]
        var pid: pid_t = 0
        let cArgs = args.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) }; for p in cEnv { free(p) } }
        let rc = posix_spawn(&pid, args[0], &actions, nil, cArgs, cEnv)
        close(input[0])
        close(errors[1])
        guard rc == 0 else {
            close(input[1]); close(errors[0])
            return DeliveryStatus(.temporaryFailure, "cannot start delivery process", reason: "posix_spawn \(args[0]): \(SystemError("posix_spawn", errno: rc))")
        }
        // Feed the message on a thread of its own while this one drains standard error, so
        // neither pipe can fill up and stall the child.
        final class Feeder: @unchecked Sendable {
            let fd: Int32; let message: Message; let prepend: [HeaderField]
            init(_ fd: Int32, _ m: Message, _ p: [HeaderField]) { self.fd = fd; message = m; prepend = p }
        }
        let feeder = Unmanaged.passRetained(Feeder(input[1], message, prepend)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let f = Unmanaged<Feeder>.fromOpaque(arg!).takeRetainedValue()
            var sink = FileSink(fd: f.fd, path: "delivery process")
            try? f.message.write(prepending: f.prepend, to: &sink)
            try? sink.flush()
            close(f.fd)
            return nil
        }, feeder)
        var stderrBytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { (try? Posix.read(errors[0], into: $0)) ?? 0 }
            if n <= 0 { break }
            if stderrBytes.count < 65536 { stderrBytes += buf[0..<n] }
        }
        close(errors[0])
        pthread_join(thread, nil)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && currentErrno() == EINTR {}
        let exited = (status & 0x7F) == 0
        let code = exited ? (status >> 8) & 0xFF : -1
        let firstLine = String(decoding: stderrBytes.prefix { $0 != 10 }, as: UTF8.self)
        if code == 0 { return DeliveryStatus(.delivered, "delivered to maildir") }
        let parts = firstLine.split(separator: " ", maxSplits: 1)
        if let first = parts.first, let enhanced = EnhancedStatus(first), !enhanced.isSuccess {
            return DeliveryStatus(enhanced, parts.count > 1 ? String(parts[1]) : "delivery failed")
        }
        return DeliveryStatus(.temporaryFailure, "delivery process failed",
                              reason: "mdad deliver exited with \(exited ? "status \(code)" : "signal \(status & 0x7F)"): \(firstLine)")
    }
}

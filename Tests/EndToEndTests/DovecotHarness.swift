import Foundation
import Testing

/// A private Dovecot (Debian's dovecot-core and dovecot-imapd): its own configuration, base,
/// state and log under /tmp, IMAP without TLS on a free loopback port, PLAIN logins checked
/// against a passwd-file of test users. Started once for a suite (the `.dovecot` trait) and
/// stopped by the master's PID afterwards. Needs root, as Dovecot's master does; the machine's
/// /etc/dovecot is not read (`-c` names our file) and no system service is touched.
final class DovecotInstance: @unchecked Sendable {
    @TaskLocal static var current: DovecotInstance?

    let root: URL
    let port: Int
    /// One passwd-file per user (`users/<name>`): Dovecot opens a new file at the first
    /// login, where it could miss a change to one shared file made in the same second.
    var usersDirectory: URL { root.appendingPathComponent("users") }
    var log: URL { root.appendingPathComponent("dovecot.log") }
    var configFile: URL { root.appendingPathComponent("dovecot.conf") }
    private(set) var masterPID: pid_t = 0

    /// `mailLocation`: Dovecot's mail_location (Maildir in the home by default).
    init(mailLocation: String = "maildir:~/Maildir") throws {
        guard getuid() == 0 else { throw SkipReason("a private Dovecot needs root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") else {
            throw SkipReason("dovecot is not installed (apt-get install dovecot-core dovecot-imapd)")
        }
        root = URL(fileURLWithPath: "/tmp/mdad-dovecot-\(UUID().uuidString.prefix(8))")
        port = try freeLoopbackPort()
        let fm = FileManager.default
        for d in ["run", "state", "homes", "users"] {
            try fm.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        for d in ["", "run", "homes", "users"] {
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.appendingPathComponent(d).path)
        }
        // first_valid_uid: Dovecot refuses users below 500 by default; test users come from
        // useradd and may be anywhere above root. INBOX's namespace uses Maildir++'s own
        // separator, as Dovecot does by default for maildir.
        let conf = """
            base_dir = \(root.path)/run
            state_dir = \(root.path)/state
            log_path = \(log.path)
            info_log_path = \(log.path)
            listen = 127.0.0.1
            protocols = imap
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain
            first_valid_uid = 1
            mail_location = \(mailLocation)
            # Maildir++ quota, read from the maildirsize file mdad keeps; a user's limit comes
            # from the userdb field quota_rule (none: no limit).
            mail_plugins = $mail_plugins quota
            plugin {
              quota = maildir:User quota
            }
            namespace inbox {
              inbox = yes
              separator = .
            }
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(usersDirectory.path)/%u
            }
            userdb {
              driver = passwd-file
              args = \(usersDirectory.path)/%u
            }
            service imap-login {
              inet_listener imap {
                address = 127.0.0.1
                port = \(port)
              }
              inet_listener imaps {
                port = 0
              }
            }

            """
        try conf.write(to: configFile, atomically: true, encoding: .utf8)

        let start = try Self.spawnDaemon("/usr/sbin/dovecot", ["-c", configFile.path],
                                         output: root.appendingPathComponent("start.out").path)
        guard start.status == 0 else {
            throw SkipReason("dovecot failed to start (\(start.status)): \(start.output) \(logText)")
        }
        let pidFile = root.appendingPathComponent("run/master.pid").path
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0,
               Self.accepts(port: port) {
                masterPID = pid
                break
            }
            usleep(50_000)
        }
        guard masterPID > 0 else {
            stop()
            throw SkipReason("dovecot did not start listening on 127.0.0.1:\(port): \(logText)")
        }
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Stops the master by PID (it stops its children) and removes the directories.
    func stop() {
        if masterPID > 0 {
            kill(masterPID, SIGTERM)
            for _ in 0..<100 where kill(masterPID, 0) == 0 { usleep(50_000) }
            if kill(masterPID, 0) == 0 { kill(masterPID, SIGKILL) }
            masterPID = 0
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// A home directory for a new test user, created before the user exists (so that
    /// `TestUser.removeStale` never mistakes the user for a leftover).
    func makeHome() throws -> String {
        let home = root.appendingPathComponent("homes/\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        return home
    }

    /// Lets a test user log in over IMAP with `password` (uid, gid and home from the user).
    func allow(_ user: TestUser, password: String, userdbFields: String = "") throws {
        let file = usersDirectory.appendingPathComponent(user.name)
        try "\(user.name):{PLAIN}\(password):\(user.uid):\(user.gid)::\(user.home)::\(userdbFields)\n"
            .write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
    }

    /// Fetches the account with Python's imaplib (`imap_fetch.py`).
    /// With `append`, first appends a message through IMAP (mailbox, flag list, bytes).
    func fetch(user: String, password: String, append: (mailbox: String, flags: String, message: Data)? = nil) throws
        -> IMAPAccount {
        guard let script = Bundle.module.url(forResource: "imap_fetch", withExtension: "py") else {
            throw SkipReason("imap_fetch.py is missing from the test bundle")
        }
        var args = [script.path, "127.0.0.1", "\(port)", user, password]
        if let append { args += ["--append", append.mailbox, append.flags, append.message.base64EncodedString()] }
        let r = try Self.run("/usr/bin/python3", args,
                             errorFile: root.appendingPathComponent("imap_fetch.err"))
        guard r.status == 0 else { throw SkipReason("imap_fetch.py failed (\(r.status)): \(r.errors) \(logText)") }
        return try JSONDecoder().decode(IMAPAccount.self, from: Data(r.output.utf8))
    }

    /// Starts a program that puts itself in the background, and waits for the foreground
    /// part to exit. Not with Foundation's `Process`: the daemon inherits the descriptor
    /// `Process` watches for the child's exit and keeps it open, so `waitUntilExit` never
    /// returns. Here the child gets an empty signal mask (this process's threads block
    /// SIGTERM, and Dovecot's master keeps the mask it inherits, so `stop()` could not stop
    /// it), default signal handlers, /dev/null as input, `output` as standard output and
    /// error, and no other descriptor of ours.
    static func spawnDaemon(_ tool: String, _ args: [String], output: String) throws -> (status: Int32, output: String) {
        unlink(output)
        let pid = try spawnChild(tool, args, environment: nil, output: output)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (exitCode, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Runs a tool; standard error goes to `errorFile` when given (read after the tool
    /// exits, so a large output on both streams cannot dead-lock), else with the output; with
    /// `outputFile` both go to that file (for a daemon, which keeps them open).
    static func run(_ tool: String, _ args: [String], errorFile: URL? = nil, outputFile: URL? = nil) throws
        -> (status: Int32, output: String, errors: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        if let outputFile {
            _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
            let handle = try FileHandle(forWritingTo: outputFile)
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            try? handle.close()
            return (p.terminationStatus, (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "", "")
        }
        let out = Pipe()
        p.standardOutput = out
        if let errorFile {
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: errorFile)
        } else {
            p.standardError = out
        }
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errors = errorFile.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), errors)
    }
}

/// What `imap_fetch.py` prints.
struct IMAPAccount: Decodable {
    struct Mailbox: Decodable, Equatable {
        var name: String
        var delimiter: String?
        var flags: [String]
    }
    struct Message: Decodable {
        var uid: Int?
        var flags: [String]
        var body: String
        var bytes: Data { Data(base64Encoded: body) ?? Data() }
    }
    var list: [Mailbox]
    var lsub: [Mailbox]
    var subscribed: [String]
    var mailboxes: [String: [Message]]
}

/// Starts one Dovecot for the whole suite and stops it after the suite's last test.
struct DovecotTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let instance = try DovecotInstance()
        defer { instance.stop() }
        try await DovecotInstance.$current.withValue(instance) { try await function() }
    }
}

extension Trait where Self == DovecotTrait {
    static var dovecot: DovecotTrait { DovecotTrait() }
}

import Foundation
import Testing

/// Starts a program with an empty signal mask and default handlers (this process's threads
/// block SIGTERM, and a daemon keeps the mask it inherits), /dev/null as input, `output` as
/// standard output and error (appended), no other descriptor of ours, and `environment` (nil:
/// this process's); returns its PID. Not with Foundation's `Process`: a daemon inherits the
/// descriptor `Process` watches and `waitUntilExit` never returns. Long-running children are
/// stopped with ``stopChild(_:signal:)``.
func spawnChild(_ tool: String, _ args: [String], environment: [String]? = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C"],
                output: String) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, sig) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap(Int32.init) where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    let argv: [UnsafeMutablePointer<CChar>?] = ([tool] + args).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
    defer { for a in argv + (envp ?? []) { free(a) } }
    var pid: pid_t = 0
    let rc = envp.map { posix_spawn(&pid, tool, &actions, &attributes, argv, $0) } ?? posix_spawn(&pid, tool, &actions, &attributes, argv, environ)
    guard rc == 0 else { throw SkipReason("posix_spawn \(tool): \(String(cString: strerror(rc)))") }
    return pid
}

/// Stops a child by its PID and reaps it (SIGKILL after 10 s).
func stopChild(_ pid: pid_t, signal sig: Int32 = SIGTERM) {
    guard pid > 0 else { return }
    kill(pid, sig)
    var status: Int32 = 0
    for _ in 0..<200 {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(50_000)
    }
    kill(pid, SIGKILL)
    waitpid(pid, &status, 0)
}

/// Polls `condition` every 100 ms until it holds or `timeout` seconds pass.
@discardableResult
func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// The scripted SMTP server (Scripts/smtp_server.py) on a loopback port: accepts mail into a
/// directory and injects the failures it is told to.
final class ScriptedSMTPServer {
    let port: Int
    let out: URL
    private(set) var pid: pid_t = 0
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/smtp_server.py").path
    }

    init(port: Int? = nil, directory: URL, arguments: [String] = []) throws {
        self.port = try port ?? freeLoopbackPort()
        out = directory.appendingPathComponent("server-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        pid = try spawnChild("/usr/bin/python3", [Self.script, "--port", "\(self.port)", "--out", out.path, "--lifetime", "600"] + arguments,
                             output: out.appendingPathComponent("server.out").path)
        guard waitUntil(10, { FileManager.default.fileExists(atPath: out.appendingPathComponent("ready").path) }) else {
            stop()
            throw SkipReason("scripted SMTP server did not start: \((try? String(contentsOf: out.appendingPathComponent("server.out"), encoding: .utf8)) ?? "")")
        }
    }

    func stop() {
        stopChild(pid)
        pid = 0
    }

    deinit { stop() }

    struct Received {
        var from: String
        var to: [String]
        var mail: String
        var tls: Bool
        var data: String
    }

    /// The messages accepted so far, in order.
    var received: [Received] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { n in
            guard let d = try? Data(contentsOf: out.appendingPathComponent(n)),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return nil }
            return Received(from: o["from"] as? String ?? "", to: (o["to"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String },
                            mail: o["mail"] as? String ?? "", tls: o["tls"] as? Bool ?? false, data: o["data"] as? String ?? "")
        }
    }

    var commands: String { (try? String(contentsOf: out.appendingPathComponent("commands.log"), encoding: .utf8)) ?? "" }
}

/// mdad as the null client: its own main.cf and queue in a temporary directory, `mdad serve`
/// started and stopped by PID.
final class NullClient {
    let root: URL
    var etc: URL { root.appendingPathComponent("etc") }
    var queue: URL { root.appendingPathComponent("queue") }
    var maillog: URL { root.appendingPathComponent("maillog") }
    private(set) var pid: pid_t = 0
    /// The loopback port `mdad serve` takes LMTP on.
    let lmtpPort: Int

    init(relayhost: String, extra: String = "") throws {
        root = URL(fileURLWithPath: "/tmp/mdad-relay-\(UUID().uuidString.prefix(8))")
        lmtpPort = try freeLoopbackPort()
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.path)
        let lmtp = lmtpPort
        let main = """
            myhostname = client.example.test
            mydomain = example.test
            mydestination =
            relayhost = \(relayhost)
            queue_directory = \(queue.path)
            lmtp_listen = inet:127.0.0.1:\(lmtp)
            maillog_file = \(maillog.path)
            minimal_backoff_time = 1s
            maximal_backoff_time = 2s
            queue_run_delay = 1s
            smtp_connection_cache_time_limit = 1s
            \(extra)

            """
        try main.write(to: etc.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        // The queue exists before anyone submits, with the modes mdad serve gives it.
        for d in ["", "/incoming", "/active", "/deferred", "/hold", "/corrupt", "/defer", "/maildrop"] {
            try FileManager.default.createDirectory(atPath: queue.path + d, withIntermediateDirectories: true)
            if !d.isEmpty { chmod(queue.path + d, 0o700) }
        }
        chmod(queue.path + "/maildrop", 0o1733)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: root)
    }

    func start() throws {
        pid = try spawnChild(MDAD.binary, ["serve", "-c", etc.path], output: root.appendingPathComponent("serve.out").path)
        guard waitUntil(10, { self.log.contains("daemon started") }) else {
            throw SkipReason("mdad serve did not start: \(log) \((try? String(contentsOf: root.appendingPathComponent("serve.out"), encoding: .utf8)) ?? "")")
        }
    }

    func stop(signal sig: Int32 = SIGTERM) {
        stopChild(pid, signal: sig)
        pid = 0
    }

    var log: String { (try? String(contentsOf: maillog, encoding: .utf8)) ?? "" }

    /// `mdad sendmail -C etc ARGS` with `message` on standard input.
    @discardableResult
    func sendmail(_ args: [String], _ message: String, prefix: [String] = []) throws -> MDAD.Result {
        try MDAD.run(["sendmail", "-C", etc.path] + args, input: Data(message.utf8), prefix: prefix)
    }

    func mdad(_ args: [String]) throws -> MDAD.Result { try MDAD.run(args + ["-c", etc.path], input: Data()) }

    /// Queue files in a state.
    func files(_ state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: queue.path + "/" + state)) ?? []).filter { !$0.hasPrefix(".") }
    }

    var queued: Int { ["incoming", "active", "deferred", "hold", "maildrop"].map { files($0).count }.reduce(0, +) }
}

/// A test CA and server certificates made with openssl in a temporary directory.
final class TestCA {
    let dir: URL
    var caFile: String { dir.appendingPathComponent("ca.pem").path }

    init() throws {
        dir = URL(fileURLWithPath: "/tmp/mdad-ca-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                     "-subj", "/CN=mdad test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// A key and a certificate for `name` signed by the CA; returns (cert, key) paths.
    func issue(_ name: String) throws -> (cert: String, key: String) {
        let ext = dir.appendingPathComponent("\(name).ext")
        try "subjectAltName=DNS:\(name)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(to: ext, atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "\(name).pem", "-days", "2", "-extfile", ext.path])
        chmod(dir.path, 0o755)
        for f in ["\(name).pem", "\(name).key", "ca.pem"] { chmod(dir.appendingPathComponent(f).path, 0o644) }
        return (dir.appendingPathComponent("\(name).pem").path, dir.appendingPathComponent("\(name).key").path)
    }

    func openssl(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.currentDirectoryURL = dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SkipReason("openssl \(args.joined(separator: " ")) failed") }
    }
}

import Foundation
import Testing

/// A private Postfix instance: its own config, queue and data directories under /tmp, SMTP on
/// a free loopback port, `mailbox_command` pointing at the built mdad. Started once for a
/// suite (the `.postfix` trait) and stopped by the master's PID afterwards. Needs root, as
/// Postfix's master does; the machine's /etc/postfix is not touched.
final class PostfixInstance: @unchecked Sendable {
    @TaskLocal static var current: PostfixInstance?

    let root: URL
    let port: Int
    let hostName = "mx.example.test"
    var etc: URL { root.appendingPathComponent("etc") }
    var mdadConfig: URL { root.appendingPathComponent("mdad") }
    var maillog: URL { root.appendingPathComponent("maillog") }
    private(set) var masterPID: pid_t = 0

    /// `extra` is appended to Postfix's main.cf (later lines win); `services` are added to its
    /// master.cf (a recording transport, for example).
    init(mdadMainCF: String, postfixMainCF extra: String = "", services extraServices: [String] = []) throws {
        guard getuid() == 0 else { throw SkipReason("a private Postfix instance needs root") }
        root = URL(fileURLWithPath: "/tmp/mdad-postfix-\(UUID().uuidString.prefix(8))")
        port = try freeLoopbackPort()
        let fm = FileManager.default
        for d in ["etc", "queue", "data", "mdad"] {
            try fm.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.path)
        chown(root.appendingPathComponent("data").path, try Self.uid("postfix"), gid_t(bitPattern: -1))
        // mdad logs to its own file, as an administrator would set it up behind Postfix, so that
        // only the status line reaches Postfix's log and bounces.
        let mdadLog = root.appendingPathComponent("mdad.log").path
        // Every recipient's delivery runs as that user; in production syslog is the answer
        // (maillog_destination = syslog), here a file all test users may append to.
        _ = FileManager.default.createFile(atPath: mdadLog, contents: nil, attributes: [.posixPermissions: 0o666])
        chmod(mdadLog, 0o666)
        try (mdadMainCF + "\nmaillog_file = \(mdadLog)\n").write(to: mdadConfig.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: mdadConfig.path)
        try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: mdadConfig.appendingPathComponent("main.cf").path)
        let main = """
            compatibility_level = 3.6
            queue_directory = \(root.path)/queue
            data_directory = \(root.path)/data
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = \(hostName)
            mydomain = example.test
            mydestination = \(hostName)
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            alias_maps =
            alias_database =
            local_recipient_maps =
            biff = no
            smtputf8_enable = no
            maillog_file_prefixes = /tmp
            maillog_file = \(maillog.path)
            mailbox_command = \(MDAD.binary) deliver -c \(mdadConfig.path) -f "$SENDER" -a "$ORIGINAL_RECIPIENT" -r "$RECIPIENT"
            recipient_delimiter = +
            \(extra)
            """
        try main.write(to: etc.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        let services = ["127.0.0.1:\(port) inet n - n - - smtpd"] + Self.services
        try ((services + extraServices).joined(separator: "\n") + "\n").write(to: etc.appendingPathComponent("master.cf"), atomically: true, encoding: .utf8)

        let start = try run("/usr/sbin/postfix", ["-c", etc.path, "start"])
        guard start.status == 0 else {
            throw SkipReason("postfix start failed (\(start.status)): \(start.output) \((try? String(contentsOf: maillog, encoding: .utf8)) ?? "")")
        }
        let pidFile = root.appendingPathComponent("queue/pid/master.pid").path
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 {
                masterPID = pid
                break
            }
            usleep(50_000)
        }
        guard masterPID > 0 else { throw SkipReason("postfix master did not start") }
    }

    /// master.cf's services besides smtpd, none chrooted.
    static let services = [
        "pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce", "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush", "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp", "showq unix n - n - - showq", "error unix - - n - - error",
        "retry unix - - n - - error", "discard unix - - n - - discard", "local unix - n n - - local",
        "anvil unix - - n - 1 anvil", "lmtp unix - - n - - lmtp", "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd",
    ]

    /// Stops the master by PID (it stops its children) and removes the directories.
    func stop() {
        if masterPID > 0 {
            kill(masterPID, SIGTERM)
            for _ in 0..<100 where kill(masterPID, 0) == 0 { usleep(50_000) }
            if kill(masterPID, 0) == 0 { kill(masterPID, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Sends a message over SMTP with swaks; returns Postfix's queue ID.
    func send(from: String, to: String, subject: String, body: String = "hello\n") throws -> String {
        let r = try run("/usr/bin/swaks", ["--server", "127.0.0.1:\(port)", "--from", from, "--to", to,
                                          "--h-Subject", subject, "--body", body, "--helo", "client.example.test"])
        guard let range = r.output.range(of: #"queued as ([0-9A-F]+)"#, options: .regularExpression) else {
            throw SkipReason("swaks failed: \(r.output)")
        }
        return String(r.output[range].split(separator: " ").last!)
    }

    /// Submits a message with Postfix's own sendmail(1) (postdrop, then pickup and cleanup: a
    /// local submission); returns sendmail's exit status and output.
    func sendmail(_ message: [UInt8], sender: String, recipients: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/sendmail")
        p.arguments = ["-C", etc.path, "-i", "-f", sender, "--"] + recipients
        let input = Pipe(), out = Pipe()
        p.standardInput = input
        p.standardOutput = out
        p.standardError = out
        try p.run()
        try input.fileHandleForWriting.write(contentsOf: Data(message))
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Waits for the delivery log line (local(8) or lmtp(8)) of a queue ID and returns it.
    func deliveryLine(_ queueID: String, agent: String = "local", timeout: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = (try? String(contentsOf: maillog, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: {
                $0.contains("postfix/\(agent)[") && $0.contains("\(queueID): to=<") && $0.contains("status=")
            }) { return String(line) }
            usleep(100_000)
        }
        throw SkipReason("no delivery line for \(queueID) within \(timeout) s")
    }

    static func uid(_ name: String) throws -> uid_t {
        guard let pw = getpwnam(name) else { throw SkipReason("no user \(name): is postfix installed?") }
        return pw.pointee.pw_uid
    }

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Starts one Postfix for the whole suite and stops it after the suite's last test.
struct PostfixTrait: SuiteTrait, TestScoping {
    let mdadMainCF: String
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let instance = try PostfixInstance(mdadMainCF: mdadMainCF)
        defer { instance.stop() }
        try await PostfixInstance.$current.withValue(instance) { try await function() }
    }
}

extension Trait where Self == PostfixTrait {
    static func postfix(mdadMainCF: String) -> PostfixTrait { PostfixTrait(mdadMainCF: mdadMainCF) }
}

/// A port on 127.0.0.1 that nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SkipReason("socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw SkipReason("bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

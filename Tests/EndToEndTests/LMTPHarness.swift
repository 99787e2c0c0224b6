import Foundation
import Testing

/// A running `mdad serve` with its own configuration: TCP on a free loopback port and a UNIX
/// socket, virtual mailboxes alice@ and bob@example.com under a temporary directory.
final class LMTPInstance: @unchecked Sendable {
    @TaskLocal static var current: LMTPInstance?

    let root: URL
    let port: Int
    var socketPath: String { root.appendingPathComponent("lmtp.sock").path }
    var vmail: URL { root.appendingPathComponent("vmail") }
    var maillog: URL { root.appendingPathComponent("maillog") }
    let process = Process()
    private let stderrPipe = Pipe()

    /// `extraMainCF` lines override the defaults (the last definition wins); with
    /// `socketInExtra`, `PLACEHOLDER` in it stands for this instance's UNIX socket path.
    init(extraMainCF: String = "", socketInExtra: Bool = false) throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-lmtp-\(UUID().uuidString.prefix(8))")
        self.root = root
        port = try freeLoopbackPort()
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("vmail"), withIntermediateDirectories: true)
        let uid = geteuid(), gid = getegid()
        try """
            myhostname = mx.example.test
            lmtp_listen = inet:127.0.0.1:\(port), unix:\(socketPath)
            virtual_mailbox_domains = example.com
            virtual_mailbox_base = \(vmail.path)
            virtual_mailbox_maps = inline:{ alice@example.com=alice/, bob@example.com=bob/ }
            virtual_uid_maps = static:\(uid)
            virtual_gid_maps = static:\(gid)
            virtual_minimum_uid = 0
            message_size_limit = 200000
            maillog_file = \(maillog.path)
            spool_directory = \(root.path)
            lmtp_shutdown_timeout = 10
            maildir_sync = group
            \(socketInExtra ? extraMainCF.replacingOccurrences(of: "PLACEHOLDER", with: root.appendingPathComponent("lmtp.sock").path) : extraMainCF)
            """.write(to: root.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: MDAD.binary)
        process.arguments = ["serve", "-c", root.appendingPathComponent("etc").path]
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Ready when every listener is bound and set up: the daemon logs that last.
        for _ in 0..<400 {
            if let log = try? String(contentsOf: maillog, encoding: .utf8), log.contains("daemon started") { return }
            usleep(25_000)
        }
        stop()
        throw SkipReason("mdad serve did not start: \(String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self))")
    }

    /// SIGTERM by PID, then wait for the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func cleanup() {
        stop()
        try? FileManager.default.removeItem(at: root)
    }

    /// The files in a mailbox's new/ (and tmp/).
    func files(_ user: String, _ sub: String = "new") -> [URL] {
        let dir = vmail.appendingPathComponent("\(user)/\(sub)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0) }
    }

    /// Runs the Python client; returns its JSON output.
    func client(_ scenario: String, address: String? = nil, stdin: String? = nil) throws -> [String: Any] {
        try Self.lmtpClient(scenario, address: address ?? "127.0.0.1:\(port)", stdin: stdin)
    }

    /// Runs the Python client against any LMTP server; returns its JSON output.
    static func lmtpClient(_ scenario: String, address: String, stdin: String? = nil) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/lmtp_client.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, scenario, address]
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { try input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SkipReason("lmtp_client \(scenario) failed: \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
        return json
    }
}

struct LMTPTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let instance = try LMTPInstance()
        defer { instance.cleanup() }
        try await LMTPInstance.$current.withValue(instance) { try await function() }
    }
}

extension Trait where Self == LMTPTrait {
    static func lmtpServer() -> LMTPTrait { LMTPTrait() }
}

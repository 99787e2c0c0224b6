import Foundation
import Testing

/// Runs the built `mdad` binary as a subprocess, as Postfix would.
enum MDAD {
    /// The binary next to the test bundle (both are built into the same directory), or $MDAD_BINARY.
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["MDAD_BINARY"] { return b }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Inside an .xctest bundle directory on some layouts: walk up until mdad is found.
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mdad").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "mdad"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var firstErrorLine: String { String(stderr.split(separator: "\n").first ?? "") }
    }

    /// Runs `prefix + [mdad] + args` with `input` on standard input and a clean environment.
    static func run(_ args: [String], input: Data, environment: [String: String] = [:],
                    prefix: [String] = [], program: String? = nil) throws -> Result {
        let p = Process()
        let command = prefix + [program ?? binary] + args
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        var env = ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C"]
        env.merge(environment) { _, b in b }
        p.environment = env
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        signal(SIGPIPE, SIG_IGN)   // mdad may stop reading early (a message over the size limit)
        let writer = Thread {
            try? inPipe.fileHandleForWriting.write(contentsOf: input)
            try? inPipe.fileHandleForWriting.close()
        }
        writer.start()
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A temporary directory with a home and a config directory; removed afterwards.
final class Sandbox {
    let root: URL
    var home: URL { root.appendingPathComponent("home") }
    var config: URL { root.appendingPathComponent("etc") }
    var maildir: URL { home.appendingPathComponent("Maildir") }

    init(mainCF: String = "") throws {
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        // Let a test user traverse to its home.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.path)
        try ("myhostname = mx.example.test\n" + mainCF).write(to: config.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    var environment: [String: String] {
        ["HOME": home.path, "USER": NSUserName(), "TMPDIR": root.path]
    }

    func files(_ sub: String, in maildir: URL? = nil) -> [URL] {
        let dir = (maildir ?? self.maildir).appendingPathComponent(sub)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Runs `mdad deliver -c <config> args…` as the current user with HOME in the sandbox.
    func deliver(_ args: [String], input: Data, prefix: [String] = [], environment extra: [String: String] = [:]) throws -> MDAD.Result {
        try MDAD.run(["deliver", "-c", config.path] + args, input: input,
                     environment: environment.merging(extra) { _, b in b }, prefix: prefix)
    }
}

/// A system user for one test, created with useradd and removed with userdel. Only root can
/// do this; CI runs as root, and root ignores file modes, so tests that need permission
/// failures run mdad as this user.
final class TestUser {
    let name: String
    let uid: UInt32
    let gid: UInt32
    let home: String

    init(home: String) throws {
        guard getuid() == 0 else { throw SkipReason("creating a test user needs root") }
        TestUser.removeStale()
        name = "mdadt\(Int.random(in: 100000...999999))"
        self.home = home
        // The home first: a test starting at the same moment runs removeStale, which takes a
        // test user without a home for a leftover and deletes it.
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try TestUser.sh("/usr/sbin/useradd", ["--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin",
                                              "--user-group", "--comment", "mdad test user", name])
        guard let pw = getpwnam(name) else { throw SkipReason("useradd did not create \(name)") }
        uid = pw.pointee.pw_uid
        gid = pw.pointee.pw_gid
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        chown(home, uid, gid)
        chmod(home, 0o755)
    }

    deinit { try? TestUser.sh("/usr/sbin/userdel", [name]) }

    /// Runs a command as this user (setpriv: real and effective IDs, no supplementary groups).
    var prefix: [String] { ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] }

    /// Users left behind by a test run that crashed: named mdadt…, home gone.
    static func removeStale() {
        guard let passwd = try? String(contentsOfFile: "/etc/passwd", encoding: .utf8) else { return }
        for line in passwd.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count > 5, f[0].hasPrefix("mdadt"), f[4] == "mdad test user",
                  !FileManager.default.fileExists(atPath: String(f[5])) else { continue }
            try? sh("/usr/sbin/userdel", [String(f[0])])
        }
    }

    static func sh(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw SkipReason("\(tool) \(args.joined(separator: " ")) exited \(p.terminationStatus)") }
    }
}

struct SkipReason: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The corpus that ships with the tests.
enum Corpus {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Corpus") }

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }
}

extension Data {
    /// CRLF → LF, the way a Maildir stores mail (a bare CR stays).
    var lfNormalized: Data {
        var out = Data(capacity: count)
        var i = startIndex
        while i < endIndex {
            let b = self[i]
            if b == 13, index(after: i) < endIndex, self[index(after: i)] == 10 { i = index(after: i); continue }
            out.append(b)
            i = index(after: i)
        }
        return out
    }
}

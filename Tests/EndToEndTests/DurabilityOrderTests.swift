import Foundation
import Testing

/// SIGKILL proves atomicity, not durability: the page cache outlives a killed process. So each
/// delivery path is traced with strace and its system calls checked in order: the data
/// written, the file flushed, linked into new/, the directory flushed, and only then the exit
/// code or the LMTP 250 (Scripts/syscall_order.py). A doctored trace shows the checker fails.
@Suite("durability order under strace", .serialized)
struct DurabilityOrderTests {
    static let syscalls = "trace=openat,write,writev,sendmsg,sendto,fsync,fdatasync,syncfs,link,linkat,rename,renameat,renameat2,unlink,exit_group"

    static func check(_ trace: String, _ mode: String, reply: String? = nil) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/syscall_order.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, trace, mode] + (reply.map { [$0] } ?? [])
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func strace(_ args: [String], trace: String, input: Data) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        p.arguments = ["-f", "-o", trace, "-e", syscalls] + args
        let stdin = Pipe()
        p.standardInput = stdin
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try stdin.fileHandleForWriting.write(contentsOf: input)
        try stdin.fileHandleForWriting.close()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test(arguments: ["Maildir/", "Mailbox"])
    func mdadDeliverFlushesBeforeItExits(homeMailbox: String) throws {
        let box = try Sandbox(mainCF: "home_mailbox = \(homeMailbox)\n")
        let trace = box.root.appendingPathComponent("trace").path
        var env = box.environment
        env["PATH"] = "/usr/bin:/bin"
        let status = try Self.strace(["/usr/bin/env"] + env.map { "\($0.key)=\($0.value)" } + [MDAD.binary, "deliver", "-c", box.config.path, "-f", "s@example.org"],
                                     trace: trace, input: Data("Subject: traced\n\nbody\n".utf8))
        #expect(status == 0)
        let result = try Self.check(trace, homeMailbox.hasSuffix("/") ? "maildir" : "mbox")
        print("strace order, mdad deliver into \(homeMailbox): \(result)")
        #expect(result["checked"] as? Int == 1)
        #expect((result["violations"] as? [String])?.isEmpty == true, "\(result)")
    }

    @Test(arguments: ["always", "group"])
    func mdadServeFlushesBeforeIts250(sync: String) throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-strace-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let port = try freeLoopbackPort()
        try """
            myhostname = mx.example.test
            lmtp_listen = inet:127.0.0.1:\(port)
            virtual_mailbox_domains = example.com
            virtual_mailbox_base = \(root.path)/vmail
            virtual_mailbox_maps = inline:{ alice@example.com=alice/, bob@example.com=bob/ }
            virtual_uid_maps = static:\(geteuid())
            virtual_gid_maps = static:\(getegid())
            virtual_minimum_uid = 0
            maillog_file = \(root.path)/maillog
            maildir_sync = \(sync)
            """.write(to: root.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        let trace = root.appendingPathComponent("trace").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        p.arguments = ["-f", "-o", trace, "-e", Self.syscalls, MDAD.binary, "serve", "-c", root.appendingPathComponent("etc").path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var ready = false
        for _ in 0..<400 where !ready {
            ready = ((try? String(contentsOf: root.appendingPathComponent("maillog"), encoding: .utf8)) ?? "").contains("daemon started")
            if !ready { usleep(25_000) }
        }
        #expect(ready)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/lmtp_client.py")
        let c = Process()
        c.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        c.arguments = ["python3", script.path, "raw-rcpts", "127.0.0.1:\(port)"]
        let input = Pipe()
        c.standardInput = input
        c.standardOutput = FileHandle.nullDevice
        try c.run()
        try input.fileHandleForWriting.write(contentsOf: Data("alice@example.com bob@example.com\n".utf8))
        try input.fileHandleForWriting.close()
        c.waitUntilExit()
        // Stop mdad (strace's child) by its PID; strace ends with it.
        let pg = Process()
        pg.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        pg.arguments = ["-TERM", "-f", "serve -c \(root.path)/etc"]
        try pg.run()
        pg.waitUntilExit()
        p.waitUntilExit()
        let result = try Self.check(trace, "maildir", reply: "250 2.0.0 <")
        print("strace order, mdad serve with maildir_sync = \(sync): \(result)")
        #expect(result["checked"] as? Int == 2)
        #expect((result["violations"] as? [String])?.isEmpty == true, "\(result)")
    }

    @Test func theCheckerCatchesALinkBeforeTheFlush() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-strace-neg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let doctored = """
            100 openat(AT_FDCWD, "/m/tmp/1.M1P100Q1.h", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 6
            100 write(6, "Subject: x\\n\\nbody\\n", 17) = 17
            100 link("/m/tmp/1.M1P100Q1.h", "/m/new/1.M1P100Q1.h,S=17") = 0
            100 fsync(6)                          = 0
            100 openat(AT_FDCWD, "/m/new/", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 6
            100 fsync(6)                          = 0
            100 exit_group(0)                     = ?

            """
        try doctored.write(to: dir.appendingPathComponent("trace"), atomically: true, encoding: .utf8)
        let result = try Self.check(dir.appendingPathComponent("trace").path, "maildir")
        #expect((result["violations"] as? [String])?.count == 1, "\(result)")
    }
}

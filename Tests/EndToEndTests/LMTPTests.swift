import Foundation
import Testing

/// `mdad serve` over real sockets, driven by Python's smtplib.LMTP and raw sockets.
@Suite("mdad serve over sockets", .serialized, .lmtpServer())
struct LMTPServeTests {
    var server: LMTPInstance { LMTPInstance.current! }

    @Test func oneReplyPerRecipientOverTCPAndUNIX() throws {
        for address in ["127.0.0.1:\(server.port)", server.socketPath] {
            let before = (server.files("alice").count, server.files("bob").count)
            let out = try server.client("per-recipient", address: address)
            let refused = try #require(out["refused"] as? [String: [Any]])
            #expect(refused.keys.sorted() == ["nobody@example.com"])
            #expect(refused["nobody@example.com"]?.first as? Int == 550)
            #expect((refused["nobody@example.com"]?.last as? String)?.hasPrefix("5.1.1") == true)
            #expect(server.files("alice").count == before.0 + 1)
            #expect(server.files("bob").count == before.1 + 1)
        }
    }

    @Test func dotStuffingAndEightBitAreStoredByteForByte() throws {
        let before = Set(server.files("alice"))
        let out = try server.client("dot-8bit")
        let sent = try #require(out["sent"] as? String)
        let new = server.files("alice").filter { !before.contains($0) }
        #expect(new.count == 1)
        let stored = try Data(contentsOf: try #require(new.first))
        // Trace fields on top: Return-Path, Delivered-To and the Received field RFC 5321
        // section 4.4 asks of a server that accepts a message; then the message byte for byte.
        let text = String(decoding: stored, as: UTF8.self)
        let received = #/^Return-Path: <>\nDelivered-To: alice@example.com\nReceived: from client\.test \(localhost \[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(mdad\) with LMTP id [0-9A-F]{12}\n\tfor <alice@example\.com>; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]+\)\n/#
        let match = try #require(text.firstMatch(of: received), "\(text.prefix(300))")
        let rest = stored.suffix(from: stored.startIndex + match.output.utf8.count)
        #expect(Data(rest) == Data(sent.unicodeScalars.map { UInt8($0.value) }).lfNormalized)
    }

    @Test func bdatChunksAreNotDotUnstuffed() throws {
        let before = Set(server.files("bob"))
        let out = try server.client("bdat")
        let replies = try #require(out["replies"] as? [String])
        #expect(replies.count == 3)
        #expect(replies[0].hasPrefix("250 2.0.0 Ok: 17 octets"))
        #expect(replies[1].hasPrefix("250 2.0.0 <alice@example.com>"))
        #expect(replies[2].hasPrefix("250 2.0.0 <bob@example.com>"))
        let new = server.files("bob").filter { !before.contains($0) }
        let text = try String(contentsOf: try #require(new.first), encoding: .utf8)
        #expect(text.hasSuffix("Subject: bdat\n\n.not stuffed\nlast line\n"))
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() throws {
        let out = try server.client("pipelined")
        let replies = try #require(out["replies"] as? [String])
        let codes = replies.map { String($0.prefix(3)) }
        #expect(codes == ["250", "250", "250", "550", "250", "354", "250", "250", "250", "221"], "\(replies)")
        #expect(replies[6].contains("<alice@example.com>") && replies[7].contains("<bob@example.com>"))
    }

    @Test func oversizeIsRefusedPerRecipient() throws {
        let before = server.files("alice").count
        // smtplib announces SIZE=, so MAIL FROM is refused at once.
        let out = try server.client("oversize")
        #expect((out["mail_refused"] as? [Any])?.first as? Int == 552, "\(out)")
        // Without SIZE=, the limit is found during DATA: one 552 per recipient, then the session goes on.
        let raw = try server.client("oversize-raw")
        let replies = raw["replies"] as? [String] ?? []
        #expect(replies.count == 3)
        #expect(replies.prefix(2).allSatisfy { $0.hasPrefix("552 5.3.4 <") }, "\(replies)")
        #expect(replies.last?.hasPrefix("250") == true)
        #expect(server.files("alice").count == before)
    }

    @Test func hangingUpMidDataDeliversNothingAndLeavesNoTemporaryFile() throws {
        let before = server.files("alice").count
        let out = try server.client("hangup")
        #expect((out["replies"] as? [String])?.last?.hasPrefix("354") == true)
        usleep(300_000)
        #expect(server.files("alice").count == before)
        #expect(server.files("alice", "tmp").isEmpty)
        let spoolLeftovers = ((try? FileManager.default.contentsOfDirectory(atPath: server.root.path)) ?? []).filter { $0.hasPrefix("mdad-spool") }
        #expect(spoolLeftovers.isEmpty)
    }

    @Test func logLinesNameTheClient() throws {
        _ = try server.client("per-recipient")
        let log = try String(contentsOf: server.maillog, encoding: .utf8)
        #expect(log.contains("mdad/lmtp["))
        #expect(log.contains("relay=localhost[127.0.0.1]"))
        #expect(log.contains("status=sent (delivered to maildir)"))
    }
}

@Suite("mdad serve lifecycle", .serialized)
struct LMTPLifecycleTests {
    @Test func clientsOutsideMynetworksAreRefusedAtConnect() throws {
        let server = try LMTPInstance(extraMainCF: "mynetworks = 192.0.2.0/24\n")
        defer { server.cleanup() }
        let out = try server.client("connect")
        #expect((out["replies"] as? [String])?.first?.hasPrefix("554 5.7.1") == true, "\(out)")
        // UNIX-socket clients are local and always allowed.
        let unix = try server.client("connect", address: server.socketPath)
        #expect((unix["replies"] as? [String])?.first?.hasPrefix("220 ") == true)
    }

    @Test func sigtermFinishesTheTransactionThenSays421AndExits0() throws {
        let server = try LMTPInstance()
        defer { server.cleanup() }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/lmtp_client.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, "slow-data", "127.0.0.1:\(server.port)"]
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        // Wait until the client is inside DATA.
        var ready = Data()
        while !String(decoding: ready, as: UTF8.self).contains("ready") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            ready += chunk
        }
        kill(server.process.processIdentifier, SIGTERM)
        usleep(200_000)
        #expect(server.process.isRunning, "a transaction in flight keeps the server up")
        try input.fileHandleForWriting.write(contentsOf: Data("go\n".utf8))
        try input.fileHandleForWriting.close()
        let json = try JSONSerialization.jsonObject(with: out.fileHandleForReading.readDataToEndOfFile()) as? [String: Any]
        p.waitUntilExit()
        let after = json?["after"] as? [String] ?? []
        #expect(after.first?.hasPrefix("250 2.0.0 <alice@example.com>") == true, "\(String(describing: json))")
        #expect(after.last?.hasPrefix("421 4.3.2") == true, "\(after)")
        #expect(server.stop() == 0)
        #expect(server.files("alice").count == 1)
    }
}

@Suite("mdad serve reload and listeners", .serialized)
struct LMTPReloadTests {
    @Test func sighupReloadsAndABrokenConfigKeepsTheOldOne() throws {
        let server = try LMTPInstance()
        defer { server.cleanup() }
        let mainCF = server.root.appendingPathComponent("etc/main.cf")
        let original = try String(contentsOf: mainCF, encoding: .utf8)
        // bob disappears from the map: after SIGHUP, bob@ is unknown.
        try original.replacingOccurrences(of: ", bob@example.com=bob/", with: "").write(to: mainCF, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        usleep(500_000)
        let out = try server.client("per-recipient")
        let refused = out["refused"] as? [String: [Any]] ?? [:]
        #expect(refused.keys.sorted() == ["bob@example.com", "nobody@example.com"], "\(out)")
        // A broken main.cf: the reload fails, the previous configuration stays in force.
        try (original + "message_size_limit = lots\n").write(to: mainCF, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        usleep(500_000)
        let again = try server.client("per-recipient")
        #expect((again["refused"] as? [String: [Any]] ?? [:]).keys.sorted() == ["bob@example.com", "nobody@example.com"])
        let log = try String(contentsOf: server.maillog, encoding: .utf8)
        #expect(log.contains("reload: configuration reloaded"))
        #expect(log.contains("warning: reload failed, keeping the previous configuration"))
        #expect(log.contains("expected a whole number"))
        #expect(server.process.isRunning)
    }

    @Test func ipv6Listener() throws {
        let port = try freeLoopbackPort()
        let server = try LMTPInstance(extraMainCF: "lmtp_listen = inet:[::1]:\(port), unix:PLACEHOLDER\n", socketInExtra: true)
        defer { server.cleanup() }
        let out = try server.client("connect", address: "[::1]:\(port)")
        #expect((out["replies"] as? [String])?.first?.hasPrefix("220 mx.example.test") == true, "\(out)")
    }
}

@Suite("mdad serve memory")
struct LMTPMemoryTests {
    /// A 100 MB message is spooled to disk as it arrives (with flow control): the server's
    /// peak resident memory stays far below the message size.
    @Test func aHundredMegabyteMessageDoesNotNeedAHundredMegabytes() throws {
        let server = try LMTPInstance(extraMainCF: "message_size_limit = 0\nmailbox_size_limit = 0\n")
        defer { server.cleanup() }
        let out = try server.client("big")
        #expect((out["replies"] as? [String])?.first?.hasPrefix("250 2.0.0 <alice@example.com>") == true, "\(out)")
        let status = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8)
        let peakKB = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) } ?? 0
        print("mdad serve peak resident memory for a 100 MB message: \(peakKB / 1024) MB")
        #expect(peakKB > 0 && peakKB < 64 * 1024, "peak \(peakKB) kB")
        let stored = try #require(server.files("alice").first)
        let size = try FileManager.default.attributesOfItem(atPath: stored.path)[.size] as? Int ?? 0
        #expect(size > 100_000_000)
    }
}

@Suite("mdad serve as root: privilege separation", .serialized)
struct LMTPPrivilegeTests {
    /// Both ways a root daemon writes for a user: the delivery thread's file-system identity
    /// (fsuid) and a child process per copy (process).
    @Test(arguments: ["fsuid", "process"])
    func systemAndVirtualMailboxesAreWrittenByTheirOwners(mode: String) throws {
        guard getuid() == 0 else { Issue.record("needs root"); return }
        let vmail5000 = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-v5000-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: vmail5000, withIntermediateDirectories: true)
        chown(vmail5000.path, 5000, 5000)
        defer { try? FileManager.default.removeItem(at: vmail5000) }
        let server = try LMTPInstance(extraMainCF: """
            virtual_mailbox_domains = example.com, other.example
            virtual_mailbox_maps = inline:{ alice@example.com=alice/, carol@other.example=\(vmail5000.path)/carol/ }
            virtual_mailbox_base =
            virtual_uid_maps = inline:{ carol@other.example=5000 } static:0
            virtual_gid_maps = inline:{ carol@other.example=5000 } static:0
            lmtp_privilege_mode = \(mode)
            """)
        defer { server.cleanup() }
        let home = server.root.appendingPathComponent("home-u").path
        let user = try TestUser(home: home)
        let out = try server.client("raw-rcpts", stdin: "\(user.name)@mx.example.test carol@other.example\n")
        let replies = out["replies"] as? [String] ?? []
        #expect(replies.count == 2 && replies.allSatisfy { $0.hasPrefix("250 2.0.0") }, "\(replies)")
        let userNew = home + "/Maildir/new"
        let userFiles = (try? FileManager.default.contentsOfDirectory(atPath: userNew)) ?? []
        #expect(userFiles.count == 1)
        if let f = userFiles.first {
            let attrs = try FileManager.default.attributesOfItem(atPath: userNew + "/" + f)
            #expect((attrs[.ownerAccountID] as? NSNumber)?.uint32Value == user.uid)
            let text = try String(contentsOfFile: userNew + "/" + f, encoding: .utf8)
            #expect(text.components(separatedBy: "Delivered-To: ").count == 2, "trace fields are added once")
        }
        let carolNew = vmail5000.appendingPathComponent("carol/new").path
        let carolFiles = (try? FileManager.default.contentsOfDirectory(atPath: carolNew)) ?? []
        #expect(carolFiles.count == 1)
        if let f = carolFiles.first {
            let attrs = try FileManager.default.attributesOfItem(atPath: carolNew + "/" + f)
            #expect((attrs[.ownerAccountID] as? NSNumber)?.intValue == 5000)
        }
        // The daemon logs each delivery once (the child's lines stay on its standard error).
        let log = try String(contentsOf: server.maillog, encoding: .utf8)
        #expect(log.components(separatedBy: "to=<carol@other.example>").count == 2)

        // A user who points their Maildir at a directory of root's gets nothing written there.
        let rootsDir = server.root.appendingPathComponent("roots-\(mode)").path
        try FileManager.default.createDirectory(atPath: rootsDir, withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: home + "/Maildir")
        symlink(rootsDir, home + "/Maildir")
        lchown(home + "/Maildir", user.uid, user.gid)
        let hostile = try server.client("raw-rcpts", stdin: "\(user.name)@mx.example.test\n")
        let refused = hostile["replies"] as? [String] ?? []
        #expect(refused.first?.hasPrefix("4") == true, "\(refused)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: rootsDir)) ?? []).isEmpty, "nothing written through the link")
    }
}

@Suite("mdad serve limits", .serialized)
struct LMTPLimitTests {
    @Test func connectionsPastTheLimitGet421() throws {
        let server = try LMTPInstance(extraMainCF: "lmtp_max_connections = 2\n")
        defer { server.cleanup() }
        let out = try server.client("many")
        let greetings = out["greetings"] as? [String] ?? []
        #expect(greetings.filter { $0.hasPrefix("220 ") }.count == 2, "\(greetings)")
        #expect(greetings.filter { $0.hasPrefix("421 4.7.0") }.count == 1, "\(greetings)")
    }

    @Test func silentClientsAreCutOffWith421() throws {
        let server = try LMTPInstance(extraMainCF: "lmtp_timeout = 1\n")
        defer { server.cleanup() }
        let out = try server.client("idle")
        let replies = out["replies"] as? [String] ?? []
        #expect(replies.last?.hasPrefix("421 4.4.2") == true, "\(replies)")
        #expect((out["waited"] as? Double ?? 0) < 10)
    }
}

@Suite("mdad serve UNIX socket permissions")
struct LMTPSocketModeTests {
    @Test func socketModeAndOwnerFromMainCF() throws {
        guard getuid() == 0 else { Issue.record("changing a socket's owner needs root"); return }
        let server = try LMTPInstance(extraMainCF: "lmtp_unix_mode = 0660\nlmtp_unix_owner = nobody:nogroup\n")
        defer { server.cleanup() }
        var st = stat()
        #expect(stat(server.socketPath, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660)
        #expect(st.st_uid == getpwnam("nobody").pointee.pw_uid)
        #expect(st.st_gid == getgrnam("nogroup").pointee.gr_gid)
    }
}

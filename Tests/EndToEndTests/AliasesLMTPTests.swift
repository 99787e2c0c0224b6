import Foundation
import Testing

/// The `aliases` stage behind `mdad serve`: RCPT accepts alias names, one message reaches every
/// mailbox, command, file and forward of the expansion, and each RCPT gets one reply.
@Suite("aliases over LMTP", .serialized)
struct AliasesLMTPTests {
    @Test func anAliasReachesMailboxesCommandsFilesAndForwardsOnce() throws {
        guard getuid() == 0 else { throw SkipReason("commands from aliases run as default_privs: needs root") }
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-aliases-\(UUID().uuidString.prefix(8))")
        let out = work.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // Commands and files from aliases run as default_privs (nobody): it must be able to write here.
        chmod(work.path, 0o755)
        chmod(out.path, 0o777)
        let sendmail = work.appendingPathComponent("sendmail")
        try "#!/bin/sh\necho \"$@\" >> \(out.path)/sendmail.args\ncat >> \(out.path)/sendmail.msg\n"
            .write(to: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail.path, 0o755)
        let aliases = work.appendingPathComponent("aliases")
        try """
            team alice@example.com, bob@example.com
            everyone team, alice@example.com
            archive \(out.path)/archive.mbox
            run "|cat > \(out.path)/piped"
            remote someone@remote.example
            loop loop, bob@example.com
            broken :include:\(work.path)/missing-list
            """.write(to: aliases, atomically: true, encoding: .utf8)
        let server = try LMTPInstance(extraMainCF: """
            pipeline = aliases
            mydestination = example.org
            alias_maps = texthash:\(aliases.path)
            sendmail_path = \(sendmail.path)
            """)
        defer { server.cleanup() }
        let before = (server.files("alice").count, server.files("bob").count)
        let result = try server.client("raw-rcpts", stdin: "everyone@example.org archive@example.org run@example.org remote@example.org loop@example.org nosuch@example.org broken@example.org\n")
        let envelope = try #require(result["envelope"] as? [String])
        let replies = try #require(result["replies"] as? [String])
        // LHLO, MAIL, 7 RCPTs, DATA: the unknown name is refused at RCPT time, aliases are accepted.
        let rcpt = Array(envelope.dropFirst(2).prefix(7))
        #expect(rcpt[5].hasPrefix("550 5.1.1"), "\(rcpt)")
        #expect(rcpt.enumerated().filter { $0.offset != 5 }.allSatisfy { $0.element.hasPrefix("250") }, "\(rcpt)")
        #expect(replies.count == 6, "\(replies)")
        #expect(replies.prefix(5).allSatisfy { $0.hasPrefix("250") }, "\(replies)")
        #expect(replies.last?.hasPrefix("451 4.3.0") == true, "a missing :include: file defers: \(replies)")
        // everyone → team (alice, bob) and alice again: one copy each; loop → bob: bob twice in
        // all (separate RCPTs are separate deliveries, as in Postfix).
        #expect(server.files("alice").count == before.0 + 1)
        #expect(server.files("bob").count == before.1 + 2)
        let mbox = try String(contentsOf: out.appendingPathComponent("archive.mbox"), encoding: .utf8)
        #expect(mbox.hasPrefix("From s@example.org "))
        #expect(mbox.contains("Subject: privilege separation"))
        let piped = try String(contentsOf: out.appendingPathComponent("piped"), encoding: .utf8)
        #expect(piped.contains("Subject: privilege separation\n\nbody\n"))
        #expect(piped.contains("Delivered-To: run@example.org"))
        let args = try String(contentsOf: out.appendingPathComponent("sendmail.args"), encoding: .utf8)
        #expect(args == "-i -f s@example.org -- someone@remote.example\n")
        // The command and the file were written by default_privs, not root.
        var st = stat()
        #expect(stat(out.appendingPathComponent("piped").path, &st) == 0 && st.st_uid != 0)
        let log = try String(contentsOf: server.maillog, encoding: .utf8)
        #expect(log.contains("orig_to=<everyone@example.org>"), "orig_to is the address the message was sent to")
    }
}

/// `.forward` through the aliases stage: `\user` keeps a copy, commands run as the user,
/// addresses are forwarded; a .forward others could write is refused with a deferral.
@Suite("~/.forward over LMTP", .serialized)
struct ForwardLMTPTests {
    @Test func forwardFileKeepsPipesAndForwardsAsTheUser() throws {
        guard getuid() == 0 else { throw SkipReason("a test user needs root") }
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-forward-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        chmod(work.path, 0o755)
        defer { try? FileManager.default.removeItem(at: work) }
        let user = try TestUser(home: work.appendingPathComponent("home").path)
        let sendmail = work.appendingPathComponent("sendmail")
        try "#!/bin/sh\necho \"$@\" >> \(work.path)/sendmail.args\ncat > /dev/null\n".write(to: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail.path, 0o755)
        let forward = user.home + "/.forward"
        try "# keep one, pipe one, forward one\n\\\(user.name), \"|cat > \(user.home)/piped\"\nfriend@remote.example\n"
            .write(toFile: forward, atomically: true, encoding: .utf8)
        chown(forward, user.uid, user.gid)
        chmod(forward, 0o644)
        let server = try LMTPInstance(extraMainCF: """
            pipeline = aliases
            mydestination = example.org
            alias_maps =
            home_mailbox = Maildir/
            sendmail_path = \(sendmail.path)
            """)
        defer { server.cleanup() }
        var result = try server.client("raw-rcpts", stdin: "\(user.name)@example.org\n")
        #expect((result["replies"] as? [String])?.first?.hasPrefix("250") == true, "\(result)")
        let new = (try? FileManager.default.contentsOfDirectory(atPath: user.home + "/Maildir/new")) ?? []
        #expect(new.count == 1, "\\user keeps a copy in the user's own mailbox")
        var st = stat()
        #expect(stat(user.home + "/piped", &st) == 0 && st.st_uid == user.uid, "the command ran as the user")
        let args = (try? String(contentsOf: work.appendingPathComponent("sendmail.args"), encoding: .utf8)) ?? ""
        #expect(args == "-i -f s@example.org -- friend@remote.example\n")

        chmod(forward, 0o666)
        result = try server.client("raw-rcpts", stdin: "\(user.name)@example.org\n")
        #expect((result["replies"] as? [String])?.first?.hasPrefix("451") == true, "a .forward others can write defers: \(result)")
    }
}

import Foundation
import Testing

/// `mdad deliver` for virtual(8)-style mailboxes, as a Postfix pipe(8) transport or LMTP would
/// hand them over: the recipient's domain is in `virtual_mailbox_domains`, the path and IDs
/// come from lookup tables.
@Suite("virtual mailboxes, end to end", .serialized)
struct VirtualEndToEndTests {
    func box() throws -> (Sandbox, URL) {
        let vmail = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-vmail-\(UUID().uuidString.prefix(8))")
        let box = try Sandbox(mainCF: """
            virtual_mailbox_domains = example.com
            virtual_mailbox_base = \(vmail.path)
            virtual_mailbox_maps = texthash:\(vmail.path)/vmailbox
            virtual_uid_maps = static:5000
            virtual_gid_maps = static:5000
            recipient_delimiter = +
            """)
        try FileManager.default.createDirectory(at: vmail, withIntermediateDirectories: true)
        try """
            # address               mailbox
            alice@example.com       example.com/alice/
            @example.com            example.com/catchall/
            """.write(to: vmail.appendingPathComponent("vmailbox"), atomically: true, encoding: .utf8)
        chown(vmail.path, 5000, 5000)
        return (box, vmail)
    }

    @Test func deliversToTheMappedMaildirAsTheMappedUID() throws {
        guard getuid() == 0 else { Issue.record("needs root to write as uid 5000"); return }
        let (box, vmail) = try box()
        defer { try? FileManager.default.removeItem(at: vmail) }
        let r = try box.deliver(["-f", "s@example.org", "-a", "Info@example.com", "-r", "alice+news@example.com"],
                                input: Data("Subject: virtual\n\nb\n".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let new = vmail.appendingPathComponent("example.com/alice/new")
        let files = try FileManager.default.contentsOfDirectory(atPath: new.path)
        #expect(files.count == 1)
        let attrs = try FileManager.default.attributesOfItem(atPath: new.appendingPathComponent(files[0]).path)
        #expect((attrs[.ownerAccountID] as? NSNumber)?.intValue == 5000)
        #expect((attrs[.groupOwnerAccountID] as? NSNumber)?.intValue == 5000)
        let text = try String(contentsOf: new.appendingPathComponent(files[0]), encoding: .utf8)
        #expect(text.hasPrefix("Return-Path: <s@example.org>\nDelivered-To: alice+news@example.com\n"))
        #expect(r.stderr.contains("orig_to=<Info@example.com>"))

        let other = try box.deliver(["-f", "s@example.org", "-a", "someone@example.com"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(other.status == 0, "\(other.stderr)")
        #expect(FileManager.default.fileExists(atPath: vmail.appendingPathComponent("example.com/catchall/new").path))
    }

    @Test func unreadableTableDefersWithFileAndLine() throws {
        let box = try Sandbox(mainCF: """
            virtual_mailbox_domains = example.com
            virtual_mailbox_maps = texthash:/nonexistent/mdad/vmailbox
            virtual_uid_maps = static:5000
            virtual_gid_maps = static:5000
            """)
        let r = try box.deliver(["-f", "s@example.org", "-a", "alice@example.com"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 75)
        #expect(r.firstErrorLine.hasPrefix("4.3.5 "), "\(r.firstErrorLine)")
        #expect(r.stderr.contains("/nonexistent/mdad/vmailbox"))
    }

    @Test func unknownVirtualAddressBounces() throws {
        let box = try Sandbox(mainCF: """
            virtual_mailbox_domains = example.com
            virtual_mailbox_base = /tmp
            virtual_mailbox_maps = inline:{ alice@example.com=x/ }
            virtual_uid_maps = static:5000
            virtual_gid_maps = static:5000
            """)
        let r = try box.deliver(["-f", "s@example.org", "-a", "bob@example.com"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 67)
        #expect(r.firstErrorLine.hasPrefix("5.1.1 "))
    }
}

/// Dovecot's users file as mdad's user list: one passwd-file gives the mailbox, uid and gid.
@Suite("passwd-file over LMTP", .serialized)
struct PasswdFileLMTPTests {
    @Test func oneUsersFileServesMailboxUidAndGid() throws {
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-pwfile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let uid = geteuid(), gid = getegid()
        let users = work.appendingPathComponent("users")
        try """
            dora@example.net:{PLAIN}secret:\(uid):\(gid)::\(work.path)/dora::
            eve@example.net:{PLAIN}secret:\(uid):\(gid)::\(work.path)/eve::userdb_mail=maildir:~/Mail
            a broken line
            """.write(to: users, atomically: true, encoding: .utf8)
        let server = try LMTPInstance(extraMainCF: """
            virtual_mailbox_domains = example.net
            virtual_mailbox_base =
            virtual_mailbox_maps = passwd-file:\(users.path)
            virtual_uid_maps = passwd-file:\(users.path)
            virtual_gid_maps = passwd-file:\(users.path)
            """)
        defer { server.cleanup() }
        let out = try server.client("raw-rcpts", stdin: "dora@example.net eve@example.net frank@example.net\n")
        let envelope = out["envelope"] as? [String] ?? []
        #expect(envelope.dropFirst(4).first?.hasPrefix("550 5.1.1") == true, "frank is not in the users file: \(envelope)")
        #expect((out["replies"] as? [String] ?? []).allSatisfy { $0.hasPrefix("250") }, "\(out)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: work.path + "/dora/Maildir/new")) ?? []).count == 1)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: work.path + "/eve/Mail/new")) ?? []).count == 1)
        // The daemon says at start-up which line of the table it could not use.
        let log = try String(contentsOf: server.maillog, encoding: .utf8)
        #expect(log.contains("warning: \(users.path), line 3: expected user:password:uid:gid:gecos:home"), "\(log)")
    }
}

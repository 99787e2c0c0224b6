import Foundation
import Testing

/// Real Postfix in front: `mailbox_command = mdad deliver -f "$SENDER" -a "$RECIPIENT"`, mail
/// injected over SMTP, Postfix's own log line as the judge of what Postfix made of mdad's exit.
@Suite("behind a real Postfix (mailbox_command)", .serialized,
       .postfix(mdadMainCF: """
           myhostname = mx.example.test
           pipeline = access
           access_reject_senders = blocked@example.org
           message_size_limit = 20000
           """))
struct PostfixMailboxCommandTests {
    var postfix: PostfixInstance { PostfixInstance.current! }

    func user(_ tag: String) throws -> TestUser {
        try TestUser(home: postfix.root.appendingPathComponent("home-\(tag)-\(UUID().uuidString.prefix(6))").path)
    }

    @Test func deliveredIntoTheUsersMaildirWithPostfixTraceFieldsOnce() throws {
        let u = try user("ok")
        let id = try postfix.send(from: "sender@example.org", to: "\(u.name)@\(postfix.hostName)", subject: "via postfix")
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("dsn=2.0.0"), "\(line)")
        #expect(line.contains("status=sent (delivered to command: "), "\(line)")
        let new = u.home + "/Maildir/new"
        let files = try FileManager.default.contentsOfDirectory(atPath: new)
        #expect(files.count == 1)
        let content = try String(contentsOfFile: new + "/" + files[0], encoding: .utf8)
        #expect(content.hasPrefix("Return-Path: <sender@example.org>\nX-Original-To: \(u.name)@\(postfix.hostName)\nDelivered-To: \(u.name)@\(postfix.hostName)\nReceived: "), "\(content.prefix(300))")
        #expect(content.components(separatedBy: "\nDelivered-To: ").count == 2, "one Delivered-To only")
        #expect(content.contains("\nSubject: via postfix\n"))
        #expect(!content.contains("\r"))
        let attrs = try FileManager.default.attributesOfItem(atPath: new + "/" + files[0])
        #expect((attrs[.ownerAccountID] as? NSNumber)?.uint32Value == u.uid)
    }

    @Test func addressExtensionKeepsTheOriginalRecipient() throws {
        let u = try user("ext")
        let id = try postfix.send(from: "sender@example.org", to: "\(u.name)+news@\(postfix.hostName)", subject: "extension")
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("status=sent"), "\(line)")
        let new = u.home + "/Maildir/new"
        let files = try FileManager.default.contentsOfDirectory(atPath: new)
        #expect(files.count == 1)
        let content = try String(contentsOfFile: new + "/" + files[0], encoding: .utf8)
        #expect(content.contains("X-Original-To: \(u.name)+news@\(postfix.hostName)\n"), "\(content.prefix(300))")
    }

    @Test func unknownUserBouncesAndTheLogSaysWhy() throws {
        let id = try postfix.send(from: "", to: "mdad-nosuchuser@\(postfix.hostName)", subject: "nobody")
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("dsn=5.1.1"), "\(line)")
        #expect(line.contains("status=bounced"), "\(line)")
        #expect(line.contains("unknown user"), "\(line)")
    }

    @Test func policyRejectionBouncesWith571() throws {
        let u = try user("policy")
        let id = try postfix.send(from: "blocked@example.org", to: "\(u.name)@\(postfix.hostName)", subject: "blocked")
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("dsn=5.7.1"), "\(line)")
        #expect(line.contains("status=bounced"), "\(line)")
        let stored = (try? FileManager.default.contentsOfDirectory(atPath: u.home + "/Maildir/new")) ?? []
        #expect(stored.isEmpty)
    }

    @Test func tooLargeBouncesWith534() throws {
        let u = try user("big")
        let body = String(repeating: "0123456789012345678901234567890123456789\n", count: 1000)
        let id = try postfix.send(from: "sender@example.org", to: "\(u.name)@\(postfix.hostName)", subject: "big", body: body)
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("dsn=5.3.4"), "\(line)")
        #expect(line.contains("status=bounced"), "\(line)")
    }

    @Test func unwritableMailboxIsDeferredAndKeptInTheQueue() throws {
        let u = try user("locked")
        chown(u.home, 0, 0)   // the user cannot create ~/Maildir
        let id = try postfix.send(from: "sender@example.org", to: "\(u.name)@\(postfix.hostName)", subject: "later")
        let line = try postfix.deliveryLine(id)
        #expect(line.contains("dsn=4.2.0"), "\(line)")
        #expect(line.contains("status=deferred"), "\(line)")
        #expect(line.contains("cannot create maildir") && line.contains("Permission denied"), "Postfix's log shows why: \(line)")
        #expect(!line.contains("mdad/deliver["), "mdad's own log lines stay in its maillog_file")
        // Still in Postfix's queue, waiting for a retry.
        let queued = try postfix.run("/usr/sbin/postqueue", ["-c", postfix.etc.path, "-j"])
        #expect(queued.output.contains("\"queue_id\": \"\(id)\""), "\(queued.output)")
        #expect(!FileManager.default.fileExists(atPath: u.home + "/Maildir"))
    }
}

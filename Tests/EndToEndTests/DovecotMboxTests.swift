import Foundation
import Testing

/// Dovecot reading the spool mbox mdad appended to (`mail_location = mbox:~/mail:INBOX=SPOOL/%u`):
/// every message there, in order, with its own bytes; a body line starting with "From " reads
/// back quoted, as in every mbox.
@Suite("Dovecot reads the mbox mdad appended to", .serialized)
struct DovecotMboxTests {
    @Test func everyMessageComesBackInOrder() throws {
        let spool = URL(fileURLWithPath: "/tmp/mdad-mbox-spool-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: spool) }
        let mailGroup = getgrnam("mail").map { $0.pointee.gr_gid } ?? 8
        chown(spool.path, 0, mailGroup)
        chmod(spool.path, 0o2775)
        let dovecot = try DovecotInstance(mailLocation: "mbox:~/mail:INBOX=\(spool.path)/%u")
        defer { dovecot.stop() }
        let home = try dovecot.makeHome()
        let user = try TestUser(home: home)
        try dovecot.allow(user, password: "pw")
        let box = try Sandbox(mainCF: "home_mailbox =\nmail_spool_directory = \(spool.path)\n")
        let inputs = ["Subject: one\n\nplain body\n",
                      "Subject: two\n\nFrom the start of a line\nand >From quoted already\n",
                      "Subject: three\r\n\r\nCRLF body\r\n",
                      "Subject: four\n\nno newline at the end"]
        for input in inputs {
            let r = try box.deliver(["-d", user.name, "-f", "s@example.org", "-a", "\(user.name)@example.org"], input: Data(input.utf8))
            #expect(r.status == 0, "\(r.stderr)")
        }
        let account = try dovecot.fetch(user: user.name, password: "pw")
        let inbox = account.mailboxes["INBOX"] ?? []
        #expect(inbox.count == inputs.count, "\(account.mailboxes.keys)")
        for (i, message) in inbox.enumerated() where i < inputs.count {
            let text = String(decoding: message.bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            var expected = inputs[i].replacingOccurrences(of: "\r\n", with: "\n")
            expected = expected.replacingOccurrences(of: "\nFrom the start", with: "\n>From the start")
            let trace = "Return-Path: <s@example.org>\nDelivered-To: \(user.name)@example.org\n"
            // The last message had no final newline; the mbox gives it one, as mbox must.
            #expect(text == trace + expected || (i == 3 && text == trace + expected + "\n"), "message \(i + 1): \(text)")
        }
    }
}

import Foundation
import Testing

/// `spam_feedback = yes` in `mdad serve`: the Maildirs the daemon delivers to are watched; a
/// message the user moves into Junk is learned as spam once, and moved back out, as ham once.
@Suite("spam feedback in the daemon", .serialized)
struct SpamFeedbackTests {
    @Test func movingIntoJunkAndOutAgainIsLearnedOnceEachWay() throws {
        let dir = URL(fileURLWithPath: "/tmp/mdad-feedback-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rules"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("bayes"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            required_score 5
            header LOCAL_PILLS Subject =~ /pills/i
            score LOCAL_PILLS 1.0
            """.write(to: dir.appendingPathComponent("rules/local.cf"), atomically: true, encoding: .utf8)
        let server = try LMTPInstance(extraMainCF: """
            pipeline = spam
            spam_rules = \(dir.path)/rules
            spam_bayes = yes
            spam_bayes_path = \(dir.path)/bayes
            spam_folder = Junk
            spam_feedback = yes
            spam_feedback_interval = 1s
            """)
        defer { server.cleanup() }
        let sent = try server.client("envelope", stdin: "s@example.org\nalice@example.com\nSubject: cheap pills\n\nbuy cheap pills now\n")
        #expect((sent["replies"] as? [String])?.first?.hasPrefix("250") == true, "\(sent)")
        let delivered = try #require(server.files("alice").first)
        let text = try String(contentsOf: delivered, encoding: .utf8)
        #expect(text.contains("X-Spam-Status: No"), "\(text)")

        // The user moves it into Junk (as an IMAP server would: cur/, with flags).
        let maildir = server.vmail.appendingPathComponent("alice")
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(at: maildir.appendingPathComponent(".Junk/\(sub)"), withIntermediateDirectories: true)
        }
        let inJunk = maildir.appendingPathComponent(".Junk/cur/\(delivered.lastPathComponent):2,S")
        try FileManager.default.moveItem(at: delivered, to: inJunk)
        #expect(waitUntil(20) { maillog(server).contains("learned 1 as spam, 0 as ham") }, "\(maillog(server))")

        // Out again, into the INBOX: learned as ham, once.
        try FileManager.default.moveItem(at: inJunk, to: maildir.appendingPathComponent("cur/\(delivered.lastPathComponent):2,S"))
        #expect(waitUntil(20) { maillog(server).contains("learned 0 as spam, 1 as ham") }, "\(maillog(server))")
        usleep(2_500_000)   // two more passes: nothing is learned again
        let learned = maillog(server).components(separatedBy: "\n").filter { $0.contains("spam_feedback:") && $0.contains("learned") }
        #expect(learned.count == 2, "\(learned)")
    }

    func maillog(_ server: LMTPInstance) -> String { (try? String(contentsOf: server.maillog, encoding: .utf8)) ?? "" }
}

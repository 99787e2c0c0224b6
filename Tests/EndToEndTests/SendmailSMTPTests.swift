import Foundation
import Testing

/// `mdad sendmail -bs`: a scripted SMTP dialogue on standard input; the messages land in the
/// queue and reach the relay as `sendmail` would send them.
@Suite("sendmail -bs: SMTP on standard input", .serialized)
struct SendmailSMTPTests {
    @Test func scriptedDialogueQueuesEachMessageAndAnswersLikeSmtpd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-bs-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c.start()
        defer { c.stop(); s.stop() }
        let dialogue = [
            "EHLO client.test",
            "RCPT TO:<early@example.net>",
            "MAIL FROM:<alice>",
            "MAIL FROM:<again@example.test>",
            "DATA",
            "RCPT TO:<bob@example.net>",
            "RCPT TO:<carol@example.net> NOTIFY=NEVER",
            "DATA",
            "Subject: over a pipe",
            "",
            "first line",
            "..a line that starts with a dot",
            ".",
            "MAIL FROM:<>",
            "RCPT TO:<dave@example.net>",
            "RSET",
            "NOOP",
            "BOGUS",
            "QUIT",
        ].joined(separator: "\r\n") + "\r\n"
        let r = try c.sendmail(["-bs"], dialogue)
        #expect(r.status == 0, "\(r.stderr)")
        let replies = r.stdout.split(separator: "\r\n").map(String.init)
        let codes = replies.filter { !$0.hasPrefix("250-") }.map { String($0.prefix(3)) }
        #expect(codes == ["220", "250", "503", "250", "503", "503", "250", "250", "354", "250", "250", "250", "250", "250", "502", "221"], "\(replies)")
        #expect(replies.contains { $0.hasPrefix("250 2.0.0 Ok: queued as ") }, "\(replies)")
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        let got = try #require(s.received.first)
        #expect(got.from == "alice@client.example.test", "the sender is qualified with myorigin (= $myhostname)")
        #expect(got.to.sorted() == ["bob@example.net", "carol@example.net"])
        #expect(got.data.contains("\r\n.a line that starts with a dot\r\n"), "\(got.data)")
        #expect(got.data.contains("Subject: over a pipe") && got.data.contains("Message-Id: <"))
        #expect(c.files("deferred").isEmpty)
    }
}

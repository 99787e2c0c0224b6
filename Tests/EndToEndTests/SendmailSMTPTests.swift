import Foundation
import Testing

/// `mdad sendmail -bs`: a scripted SMTP dialogue on standard input; the messages land in the
/// queue and reach the relay as `sendmail` would send them.
@Suite("sendmail -bs: SMTP on standard input", .serialized)
struct SendmailSMTPTests {
    /// A null client relaying to a scripted SMTP server, for one test.
    static func withNullClient(_ body: (NullClient, ScriptedSMTPServer) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-bs-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c.start()
        defer { c.stop(); s.stop() }
        try body(c, s)
    }

    @Test func scriptedDialogueQueuesEachMessageAndAnswersLikeSmtpd() throws {
        try Self.withNullClient { c, s in
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

    /// MAIL and RCPT parameters as smtpd(8) takes them: SIZE against message_size_limit, BODY,
    /// RET, ENVID, NOTIFY and ORCPT checked and kept, and passed on to a relay that offers DSN.
    @Test func esmtpParametersAreCheckedAndPassedOn() throws {
        try Self.withNullClient { c, s in
            let dialogue = [
                "EHLO client.test",
                "MAIL FROM:<alice@example.test> SIZE=99999999999",
                "MAIL FROM:<alice@example.test> FROBNICATE=1",
                "MAIL FROM:<alice@example.test> BODY=9BIT",
                "MAIL FROM:<alice@example.test> ENVID=bad=xtext",
                "MAIL FROM:<alice@example.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=env+2Bid",
                "RCPT TO:<bob@example.net> NOTIFY=SOMETIMES",
                "RCPT TO:<bob@example.net> NOTIFY=NEVER,DELAY",
                "RCPT TO:<bob@example.net> ORCPT=nosemicolon",
                "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bold@example.net",
                "RCPT TO:<carol@example.net> NOTIFY=NEVER",
                "DATA",
                "Subject: with DSN parameters",
                "",
                "body",
                ".",
                "QUIT",
            ].joined(separator: "\r\n") + "\r\n"
            let r = try c.sendmail(["-bs"], dialogue)
            #expect(r.status == 0, "\(r.stderr)")
            let replies = r.stdout.split(separator: "\r\n").map(String.init)
            #expect(replies.contains("250-DSN"), "\(replies)")
            let answers = replies.filter { !$0.hasPrefix("250-") && !$0.hasPrefix("220") }
            #expect(Array(answers.prefix(11)) == [
                "250 ENHANCEDSTATUSCODES",
                "552 5.3.4 Message size exceeds fixed limit",
                "555 5.5.4 Unsupported option: FROBNICATE",
                "501 5.5.4 Bad BODY keyword syntax",
                "501 5.5.4 Bad ENVID parameter syntax",
                "250 2.1.0 Ok",
                "501 5.5.4 Error: Bad NOTIFY parameter syntax",
                "501 5.5.4 Error: Bad NOTIFY parameter syntax",
                "501 5.5.4 Error: Bad ORCPT parameter syntax",
                "250 2.1.5 Ok",
                "250 2.1.5 Ok",
            ], "\(answers)")
            #expect(replies.contains { $0.hasPrefix("250 2.0.0 Ok: queued as ") }, "\(replies)")
            #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
            let got = try #require(s.received.first)
            #expect(got.to.sorted() == ["bob@example.net", "carol@example.net"])
            #expect(got.mail.contains(" RET=HDRS") && got.mail.contains(" ENVID=env+2Bid"), "\(got.mail)")
            let commands = s.commands
            #expect(commands.contains("RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bold@example.net"), "\(commands)")
            #expect(commands.contains("RCPT TO:<carol@example.net> NOTIFY=NEVER ORCPT=rfc822;carol@example.net"), "\(commands)")
        }
    }
}

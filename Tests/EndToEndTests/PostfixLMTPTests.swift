import Foundation
import Testing

/// Postfix in front of `mdad serve`: `virtual_transport = lmtp:unix:…`, mail submitted over
/// SMTP (swaks) and with Postfix's own sendmail, Postfix's log as the judge.
@Suite("behind a real Postfix (LMTP)", .serialized, .postfixLMTP())
struct PostfixLMTPTests {
    var postfix: PostfixInstance { PostfixLMTPTrait.postfix! }
    var lmtp: LMTPInstance { PostfixLMTPTrait.lmtp! }

    @Test func smtpToPostfixLandsInTheMaildirThroughLMTP() throws {
        let before = lmtp.files("alice").count
        let id = try postfix.send(from: "sender@example.org", to: "alice@example.com", subject: "through lmtp")
        let line = try postfix.deliveryLine(id, agent: "lmtp")
        #expect(line.contains("status=sent (250 2.0.0 <alice@example.com>"), "\(line)")
        #expect(line.contains("relay=mx.example.test[\(lmtp.socketPath)]"), "\(line)")
        #expect(lmtp.files("alice").count == before + 1)
        let newest = try #require(lmtp.files("alice").max { a, b in
            ((try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast)
                < ((try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast)
        })
        let text = try String(contentsOf: newest, encoding: .utf8)
        #expect(text.contains("Subject: through lmtp"))
        #expect(text.hasPrefix("Return-Path: <sender@example.org>\nDelivered-To: alice@example.com\n"), "\(text.prefix(200))")
    }

    @Test func twoRecipientsGetTheirOwnResults() throws {
        let id = try postfix.send(from: "sender@example.org", to: "alice@example.com,nobody@example.com", subject: "mixed")
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while lines.count < 2 && Date() < deadline {
            let log = (try? String(contentsOf: postfix.maillog, encoding: .utf8)) ?? ""
            lines = log.split(separator: "\n").map(String.init).filter { $0.contains("postfix/lmtp[") && $0.contains("\(id): to=<") }
            usleep(100_000)
        }
        #expect(lines.contains { $0.contains("to=<alice@example.com>") && $0.contains("status=sent") }, "\(lines)")
        #expect(lines.contains { $0.contains("to=<nobody@example.com>") && $0.contains("dsn=5.1.1") && $0.contains("status=bounced") }, "\(lines)")
    }

    @Test func postfixSendmailSubmissionIsDelivered() throws {
        let before = lmtp.files("bob").count
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/sendmail")
        p.arguments = ["-C", postfix.etc.path, "-f", "sender@example.org", "bob@example.com"]
        let input = Pipe()
        p.standardInput = input
        try p.run()
        try input.fileHandleForWriting.write(contentsOf: Data("Subject: via sendmail\n\nhello bob\n".utf8))
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let deadline = Date().addingTimeInterval(30)
        while lmtp.files("bob").count == before && Date() < deadline { usleep(100_000) }
        #expect(lmtp.files("bob").count == before + 1)
    }

    @Test func temporaryFailureStaysDeferredInPostfixsQueue() throws {
        // carol's Maildir path is a file: mdad answers 451/452, Postfix keeps the message.
        let blocker = lmtp.vmail.appendingPathComponent("carol")
        try Data("not a directory".utf8).write(to: blocker)
        let id = try postfix.send(from: "sender@example.org", to: "carol@example.com", subject: "later")
        let line = try postfix.deliveryLine(id, agent: "lmtp")
        #expect(line.contains("status=deferred"), "\(line)")
        #expect(line.contains("dsn=4."), "\(line)")
        let queued = try postfix.run("/usr/sbin/postqueue", ["-c", postfix.etc.path, "-j"])
        #expect(queued.output.contains("\"queue_id\": \"\(id)\""), "\(queued.output)")
    }
}

/// Starts mdad serve, then a Postfix whose virtual_transport is its UNIX socket.
struct PostfixLMTPTrait: SuiteTrait, TestScoping {
    nonisolated(unsafe) static var postfix: PostfixInstance?
    nonisolated(unsafe) static var lmtp: LMTPInstance?
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try LMTPInstance(extraMainCF: """
            virtual_mailbox_maps = inline:{ alice@example.com=alice/, bob@example.com=bob/, carol@example.com=carol/ }
            """)
        defer { server.cleanup() }
        let pf = try PostfixInstance(mdadMainCF: "", postfixMainCF: """
            virtual_mailbox_domains = example.com
            virtual_mailbox_maps = static:accept-all-mdad-decides
            virtual_transport = lmtp:unix:\(server.socketPath)
            """)
        defer { pf.stop() }
        PostfixLMTPTrait.postfix = pf
        PostfixLMTPTrait.lmtp = server
        try await function()
    }
}

extension Trait where Self == PostfixLMTPTrait {
    static func postfixLMTP() -> PostfixLMTPTrait { PostfixLMTPTrait() }
}

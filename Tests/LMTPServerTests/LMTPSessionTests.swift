import Testing
@testable import LMTPServer
@testable import Pipeline

/// Drives a session like a host would: answers recipient checks and deliveries, collects what
/// was sent and what was delivered.
struct Driver {
    var session: LMTPSession
    var sent: [UInt8] = []
    var delivered: [(LMTPSession.Envelope, [UInt8])] = []
    var content: [UInt8] = []
    var aborted = 0
    var closed = false
    var check: (String) -> LMTPSession.RecipientCheck = { address in
        address.hasPrefix("unknown") ? .refuse(DeliveryStatus(.unknownUser, "unknown user")) : .accept
    }
    var deliver: (LMTPSession.Envelope) -> [DeliveryStatus] = { env in
        env.recipients.map { r in
            r.address.hasPrefix("full") ? DeliveryStatus(.mailboxFull, "mailbox full")
                : r.address.hasPrefix("spam") ? DeliveryStatus(.policyRejection, "rejected by rule")
                : DeliveryStatus(.delivered, "saved")
        }
    }

    init(limit: Int = 10_000, recipientLimit: Int = 5, errorLimit: Int = 20) {
        session = LMTPSession(settings: .init(hostName: "mx.test", messageSizeLimit: limit,
                                              recipientLimit: recipientLimit, hardErrorLimit: errorLimit),
                              client: "localhost[127.0.0.1]")
        run(session.start())
    }

    mutating func run(_ actions: [LMTPSession.Action]) {
        var queue = actions
        while !queue.isEmpty {
            let a = queue.removeFirst()
            switch a {
            case .send(let b): sent += b
            case .checkRecipient(let address, _): queue += session.recipientChecked(check(address))
            case .beginMessage: content = []
            case .content(let b): content += b
            case .abortMessage: aborted += 1; content = []
            case .endMessage(let env):
                delivered.append((env, content))
                queue += session.messageDelivered(deliver(env))
            case .close: closed = true
            }
        }
    }

    mutating func feed(_ text: String, split: Split = .whole) { feed(Array(text.utf8), split: split) }

    enum Split { case whole, bytes, random(UInt64) }

    mutating func feed(_ bytes: [UInt8], split: Split = .whole) {
        switch split {
        case .whole: run(session.receive(bytes))
        case .bytes: for b in bytes { run(session.receive([b])) }
        case .random(var seed):
            var i = 0
            while i < bytes.count {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let n = Int(seed >> 60) + 1
                let end = min(bytes.count, i + n)
                run(session.receive(Array(bytes[i..<end])))
                i = end
            }
        }
    }

    var replies: [String] {
        String(decoding: sent, as: UTF8.self).split(separator: "\r\n").map(String.init)
    }
    var codes: [String] { replies.map { String($0.prefix(3)) } }
}

@Suite("LMTP session (RFC 2033)")
struct LMTPSessionTests {
    static let splits: [Driver.Split] = [.whole, .bytes, .random(1), .random(2), .random(3), .random(42)]

    /// The same transcript, whole, byte by byte and in random splits: same replies, same messages.
    func replay(_ input: String, configure: (inout Driver) -> Void = { _ in }) -> Driver {
        var reference: Driver?
        for split in Self.splits {
            var d = Driver()
            configure(&d)
            d.feed(input, split: split)
            if let r = reference {
                #expect(d.replies == r.replies, "split \(split)")
                #expect(d.delivered.map { $0.1 } == r.delivered.map { $0.1 }, "split \(split)")
            } else {
                reference = d
            }
        }
        return reference!
    }

    @Test func greetingAndLHLO() {
        let d = replay("LHLO client.test\r\n")
        #expect(d.replies == ["220 mx.test LMTP mdad ready", "250-mx.test", "250-PIPELINING", "250-ENHANCEDSTATUSCODES",
                              "250-8BITMIME", "250-SIZE 10000", "250-CHUNKING", "250 SMTPUTF8"])
    }

    @Test func onePerRecipientReplyInRCPTOrder() {
        let d = replay("""
            LHLO c\r
            MAIL FROM:<s@example.org> SIZE=100 BODY=8BITMIME\r
            RCPT TO:<a@example.com>\r
            RCPT TO:<unknown@example.com>\r
            RCPT TO:<full@example.com> ORCPT=rfc822;Full+2Bx@example.com\r
            RCPT TO:<spam@example.com>\r
            DATA\r
            Subject: hi\r
            \r
            body\r
            .\r
            QUIT\r

            """)
        #expect(Array(d.codes.dropFirst(8)) == ["250", "250", "550", "250", "250", "354", "250", "452", "550", "221"])
        #expect(d.replies.contains("550 5.1.1 <unknown@example.com>: unknown user"))
        #expect(d.replies.contains("452 4.2.2 <full@example.com>: mailbox full"))
        #expect(d.replies.contains("550 5.7.1 <spam@example.com>: rejected by rule"))
        #expect(d.replies.contains("250 2.0.0 <a@example.com> saved"))
        #expect(d.delivered.count == 1)
        let env = d.delivered[0].0
        #expect(env.sender == "s@example.org")
        #expect(env.recipients.map(\.address) == ["a@example.com", "full@example.com", "spam@example.com"])
        #expect(env.recipients[1].originalRecipient == "Full+x@example.com")
        #expect(env.parameters["BODY"] == "8BITMIME")
        #expect(String(decoding: d.delivered[0].1, as: UTF8.self) == "Subject: hi\r\n\r\nbody\r\n")
        #expect(d.closed)
    }

    @Test func dotStuffingAndSmugglingDefence() {
        let d = replay("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@x>\r\nDATA\r\n..leading dot\r\n.\nnot the end\r\nbare\n.\r\nstill not\r\n.x\r\n.\r\nNOOP\r\n")
        #expect(d.delivered.count == 1)
        #expect(String(decoding: d.delivered[0].1, as: UTF8.self)
                == ".leading dot\r\n\nnot the end\r\nbare\n.\r\nstill not\r\nx\r\n",
                "a leading dot is removed when more follows it on the line (a bare LF is not a line end)")
        #expect(d.codes.last == "250")
    }

    @Test func emptyMessageAndEightBitBytes() {
        var d = Driver()
        d.feed("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n")
        #expect(d.delivered.count == 1 && d.delivered[0].1.isEmpty)
        var e = Driver()
        let body: [UInt8] = [0xE4, 0xF6, 0x00, 0xFF, 13, 10]
        e.feed(Array("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".utf8) + body + Array(".\r\n".utf8), split: .bytes)
        #expect(e.delivered.first?.1 == body)
    }

    @Test func bdatChunks() {
        let d = replay("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nBDAT 5\r\nHello\r\nBDAT 9 LAST\r\n\r\n.x\r\n.\r\nRSET\r\n")
        #expect(d.delivered.count == 1)
        #expect(String(decoding: d.delivered[0].1, as: UTF8.self) == "Hello\r\n.x\r\n.\r\n", "BDAT content is not dot-unstuffed")
        #expect(d.replies.contains("250 2.0.0 Ok: 5 octets received"))
        #expect(Array(d.codes.suffix(3)) == ["250", "250", "250"])
        var z = Driver()
        z.feed("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\n")
        #expect(z.delivered.first?.1 == Array("abc".utf8))
        var bad = Driver()
        bad.feed("LHLO c\r\nBDAT 4\r\nNOOPNOOP\r\n")
        #expect(Array(bad.codes.suffix(2)) == ["503", "250"], "the chunk of a refused BDAT is read, not run as commands")
        var mixed = Driver()
        mixed.feed("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 1\r\nxDATA\r\n")
        #expect(mixed.codes.last == "503")
    }

    @Test func sequenceAndSyntaxErrorsKeepTheSessionGoing() {
        let d = replay("""
            MAIL FROM:<a@b>\r
            HELO x\r
            LHLO\r
            LHLO c\r
            RCPT TO:<a@b>\r
            DATA\r
            MAIL FROM:a@b\r
            MAIL FROM:<a@b> FOO=1\r
            MAIL FROM:<a@b> BODY=9BIT\r
            MAIL FROM:<a@b>\r
            MAIL FROM:<c@d>\r
            DATA\r
            RCPT TO:<>\r
            FOO\r
            VRFY x\r
            HELP\r
            NOOP\r

            """)
        // After the greeting; LHLO's reply is seven lines of 250.
        #expect(Array(d.codes.dropFirst()) == ["503", "500", "501"] + Array(repeating: "250", count: 7)
                + ["503", "503", "501", "555", "501", "250", "503", "554", "501", "500", "252", "214", "250"])
    }

    @Test func sizeLimits() {
        var d = Driver(limit: 20)
        d.feed("LHLO c\r\nMAIL FROM:<a@b> SIZE=21\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n"
               + String(repeating: "x", count: 50) + "\r\n.\r\nNOOP\r\n")
        #expect(d.replies.contains("552 5.3.4 Message size exceeds fixed limit"))
        #expect(d.replies.filter { $0.hasPrefix("552 5.3.4 <") }.count == 2, "one reply per recipient")
        #expect(d.delivered.isEmpty)
        #expect(d.aborted == 1)
        #expect(d.codes.last == "250")
    }

    @Test func recipientLimit() {
        var d = Driver(recipientLimit: 2)
        d.feed("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@x>\r\nRCPT TO:<2@x>\r\nRCPT TO:<3@x>\r\n")
        #expect(d.replies.last == "452 4.5.3 Error: too many recipients")
    }

    @Test func tooManyErrorsCloseWith421() {
        var d = Driver(errorLimit: 3)
        d.feed("X\r\nY\r\nZ\r\nNOOP\r\n")
        #expect(d.replies.last == "421 4.7.0 mx.test Error: too many errors")
        #expect(!d.replies.contains { $0.hasPrefix("250") })
    }

    @Test func longCommandLineIsRefusedAndTheSessionGoesOn() {
        var d = Driver()
        d.feed("NOOP " + String(repeating: "a", count: 10_000) + "\r\nNOOP\r\n", split: .random(7))
        #expect(Array(d.codes.suffix(2)) == ["500", "250"])
    }

    @Test func pipelinedRecipientsWaitForTheirChecks() {
        var d = Driver()
        d.feed("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\nhi\r\n.\r\n", split: .whole)
        // The driver answers checks synchronously; a host answering later sees the same order.
        var s = LMTPSession(settings: .init(hostName: "h"), client: "c")
        _ = s.start()
        let first = s.receive(Array("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\n".utf8))
        #expect(first.last == .checkRecipient(address: "x@y", originalRecipient: nil))
        #expect(s.receive(Array("more".utf8)).isEmpty, "input is held while a check is pending")
        let second = s.recipientChecked(.accept)
        #expect(second.last == .checkRecipient(address: "z@y", originalRecipient: nil))
        #expect(d.delivered.count == 1)
    }

    @Test func shutdownFinishesTheTransactionThenSays421() {
        var s = LMTPSession(settings: .init(hostName: "h"), client: "c")
        _ = s.start()
        _ = s.receive(Array("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n".utf8))
        _ = s.recipientChecked(.accept)
        _ = s.receive(Array("DATA\r\npart".utf8))
        #expect(s.shutdown().isEmpty, "a message being received is finished first")
        let end = s.receive(Array(" two\r\n.\r\n".utf8))
        guard case .endMessage = end.last else { Issue.record("expected the message to complete: \(end)"); return }
        let after = s.messageDelivered([DeliveryStatus(.delivered, "saved")])
        #expect(after.count == 1)
        let next = s.receive(Array("MAIL FROM:<a@b>\r\n".utf8))
        #expect(next == [.send(Array("421 4.3.2 h Service shutting down, closing channel\r\n".utf8)), .close])
        var idle = LMTPSession(settings: .init(hostName: "h"), client: "c")
        _ = idle.start()
        #expect(idle.shutdown().last == .close)
    }

    @Test func disconnectMidDataDropsTheMessage() {
        var s = LMTPSession(settings: .init(hostName: "h"), client: "c")
        _ = s.start()
        _ = s.receive(Array("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n".utf8))
        _ = s.recipientChecked(.accept)
        let data = s.receive(Array("DATA\r\npartial".utf8))
        #expect(data.contains(.beginMessage))
        #expect(s.disconnected() == [.abortMessage])
    }

    @Test func idleTimeoutSays421ButNotWhileTheClientWaitsForUs() {
        var s = LMTPSession(settings: .init(hostName: "h"), client: "c")
        _ = s.start()
        _ = s.receive(Array("LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n".utf8))
        #expect(s.timedOut().isEmpty, "a recipient check is pending: the client is waiting for us")
        _ = s.recipientChecked(.accept)
        _ = s.receive(Array("DATA\r\npartial".utf8))
        let actions = s.timedOut()
        #expect(actions == [.abortMessage, .send(Array("421 4.4.2 h Error: timeout exceeded\r\n".utf8)), .close])
        #expect(s.receive(Array("NOOP\r\n".utf8)).isEmpty, "a closed session ignores input")
    }

    @Test func replyCodesForStatuses() {
        #expect(LMTPSession.code(for: .delivered) == 250)
        #expect(LMTPSession.code(for: .mailboxFull) == 452)
        #expect(LMTPSession.code(for: .temporaryFailure) == 451)
        #expect(LMTPSession.code(for: .unknownUser) == 550)
        #expect(LMTPSession.code(for: .messageTooBig) == 552)
        #expect(LMTPSession.code(for: .policyRejection) == 550)
    }
}

import Testing
@testable import Pipeline
@testable import Plugins

/// Transcript tests for the SMTP client session: the server's bytes go in, the actions come
/// out, no sockets. Every transcript is replayed whole, byte by byte and in random splits, and
/// must give the same actions.
@Suite("SMTP client session transcripts")
struct SMTPClientSessionTests {
    typealias Action = SMTPClientSession.Action

    static func text(_ a: [Action]) -> [String] {
        a.map {
            switch $0 {
            case .send(let b): return "C: " + String(decoding: b, as: UTF8.self)
            case .startTLS: return "startTLS"
            case .ready: return "ready"
            case .sendBody: return "sendBody"
            case .transactionDone(let o): return "done " + o.map { "\($0.status)" }.joined(separator: ",")
            case .failed(let o): return "failed \(o.status) \(o.reason(peer: "peer"))"
            case .close: return "close"
            }
        }
    }

    /// Feeds a server chunk in the given way; returns the actions.
    static func feed(_ s: inout SMTPClientSession, _ server: String, split: Int) -> [Action] {
        let bytes = Array(server.utf8)
        switch split {
        case 0: return s.receive(bytes)
        case 1: return bytes.flatMap { s.receive([$0]) }
        default:
            var out: [Action] = [], i = 0
            var rng = SystemRandomNumberGenerator()
            while i < bytes.count {
                let n = Int.random(in: 1...7, using: &rng)
                out += s.receive(bytes[i..<min(bytes.count, i + n)])
                i += n
            }
            return out
        }
    }

    enum Step {
        case server(String)
        case begin(SMTPClientSession.Envelope)
        case bodySent
        case tls
        case closed
    }

    /// Runs the steps three ways and checks they agree; returns the actions as text.
    static func run(_ settings: SMTPClientSession.Settings, _ steps: [Step]) -> [String] {
        var results: [[String]] = []
        for split in 0..<3 {
            var s = SMTPClientSession(settings: settings)
            var out: [Action] = []
            for step in steps {
                switch step {
                case .server(let t): out += feed(&s, t, split: split)
                case .begin(let e): out += s.begin(e)
                case .bodySent: out += s.bodySent()
                case .tls: out += s.tlsEstablished()
                case .closed: out += s.connectionClosed()
                }
            }
            results.append(text(out))
        }
        #expect(results[0] == results[1], "byte by byte differs from whole")
        #expect(results[0] == results[2], "random splits differ from whole")
        return results[0]
    }

    static let plain = SMTPClientSession.Settings(heloName: "client.test")
    static let ehlo = "220 srv ESMTP\r\n250-srv\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n"
    static let env = SMTPClientSession.Envelope(
        sender: "a@x.test", recipients: [.init(address: "b@y.test", notify: "FAILURE", originalRecipient: "rfc822;b@y.test"),
                                         .init(address: "c@y.test"), .init(address: "d@y.test")],
        size: 100, eightBit: true, envid: "ENV1", ret: "HDRS")

    @Test func pipelinedTransactionWithPerRecipientReplies() {
        let t = Self.run(Self.plain, [
            .server(Self.ehlo), .begin(Self.env),
            .server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <c@y.test>: busy\r\n550 5.1.1 <d@y.test>: unknown\r\n354 go\r\n"),
            .bodySent, .server("250 2.0.0 Ok: queued as X\r\n"),
        ])
        #expect(t == [
            "C: EHLO client.test\r\n", "ready",
            "C: MAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=ENV1\r\nRCPT TO:<b@y.test> NOTIFY=FAILURE ORCPT=rfc822;b@y.test\r\nRCPT TO:<c@y.test>\r\nRCPT TO:<d@y.test>\r\nDATA\r\n",
            "sendBody", "C: .\r\n", "done 2.0.0,4.2.0,5.1.1", "ready",
        ])
    }

    @Test func withoutPipeliningOneCommandAtATime() {
        let t = Self.run(Self.plain, [
            .server("220 srv\r\n250-srv\r\n250 8BITMIME\r\n"),
            .begin(.init(sender: "a@x.test", recipients: [.init(address: "b@y.test"), .init(address: "c@y.test")], size: 5)),
            .server("250 ok\r\n"), .server("550 no\r\n"), .server("250 ok\r\n"), .server("354 go\r\n"), .bodySent, .server("250 ok\r\n"),
        ])
        #expect(t == ["C: EHLO client.test\r\n", "ready", "C: MAIL FROM:<a@x.test>\r\n", "C: RCPT TO:<b@y.test>\r\n",
                      "C: RCPT TO:<c@y.test>\r\n", "C: DATA\r\n", "sendBody", "C: .\r\n", "done 5.0.0,2.0.0", "ready"])
    }

    @Test func everyRecipientRefusedMeansRsetAndNoData() {
        let t = Self.run(Self.plain, [
            .server(Self.ehlo),
            .begin(.init(sender: "a@x.test", recipients: [.init(address: "b@y.test")], size: 5)),
            .server("250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n"), .server("250 2.0.0 Ok\r\n"),
        ])
        #expect(t.suffix(3) == ["done 5.1.1", "C: RSET\r\n", "ready"])
    }

    @Test func greeting421DefersWithTheServersWords() {
        let t = Self.run(Self.plain, [.server("421 4.3.2 Service shutting down\r\n")])
        #expect(t == ["failed 4.3.2 host peer said: 421 4.3.2 Service shutting down (in reply to initial server greeting)", "C: QUIT\r\n", "close"])
    }

    @Test func ehloRefusedFallsBackToHelo() {
        let t = Self.run(Self.plain, [.server("220 old\r\n500 what\r\n250 old\r\n")])
        #expect(t == ["C: EHLO client.test\r\n", "C: HELO client.test\r\n", "ready"])
    }

    @Test func messageOverTheServersSizeIsRefusedWithoutSending() {
        var big = Self.env
        big.size = 5000
        let t = Self.run(Self.plain, [.server(Self.ehlo), .begin(big)])
        #expect(t == ["C: EHLO client.test\r\n", "ready", "done 5.3.4,5.3.4,5.3.4", "ready"])
    }

    @Test func utf8AddressNeedsSMTPUTF8() {
        let e = SMTPClientSession.Envelope(sender: "a@x.test", recipients: [.init(address: "jörg@y.test")], size: 5)
        let t = Self.run(Self.plain, [.server(Self.ehlo), .begin(e)])
        #expect(t.suffix(2) == ["done 5.6.7", "ready"])
        let t2 = Self.run(Self.plain, [.server(Self.ehlo.replacingAll("250 ENHANCEDSTATUSCODES", with: "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8")), .begin(e)])
        #expect(t2.last?.hasPrefix("C: MAIL FROM:<a@x.test> SIZE=5 SMTPUTF8\r\n") == true)
    }

    @Test func startTLSThenEHLOAgainThenAuthPlain() {
        var s = Self.plain
        s.tlsLevel = .encrypt
        s.credentials = SASLCredentials(username: "u", password: "p")
        let t = Self.run(s, [
            .server("220 srv\r\n250-srv\r\n250 STARTTLS\r\n"), .server("220 go ahead\r\n"), .tls,
            .server("250-srv\r\n250 AUTH LOGIN PLAIN\r\n"), .server("235 2.7.0 ok\r\n"),
        ])
        #expect(t == ["C: EHLO client.test\r\n", "C: STARTTLS\r\n", "startTLS", "C: EHLO client.test\r\n",
                      "C: AUTH PLAIN AHUAcA==\r\n", "ready"])
    }

    @Test func authLoginWhenPlainIsNotOffered() {
        var s = Self.plain
        s.credentials = SASLCredentials(username: "user", password: "pass")
        let t = Self.run(s, [.server("220 srv\r\n250-srv\r\n250 AUTH LOGIN\r\n"), .server("334 VXNlcm5hbWU6\r\n"),
                             .server("334 UGFzc3dvcmQ6\r\n"), .server("235 ok\r\n")])
        #expect(t == ["C: EHLO client.test\r\n", "C: AUTH LOGIN\r\n", "C: dXNlcg==\r\n", "C: cGFzcw==\r\n", "ready"])
    }

    @Test func cramMD5OnlyWhenNothingElseIsOffered() {
        var s = Self.plain
        s.credentials = SASLCredentials(username: "tim", password: "tanstaaftanstaaf")
        // RFC 2195's example exchange.
        let challenge = Base64.encode(Array("<1896.697170952@postoffice.reston.mci.net>".utf8))
        let t = Self.run(s, [.server("220 srv\r\n250-srv\r\n250 AUTH CRAM-MD5\r\n"), .server("334 \(challenge)\r\n"), .server("235 ok\r\n")])
        #expect(t == ["C: EHLO client.test\r\n", "C: AUTH CRAM-MD5\r\n",
                      "C: " + Base64.encode(Array("tim b913a602c7eda7a495b4e6e7334d3890".utf8)) + "\r\n", "ready"])
        #expect(SASLMechanism.choose(offered: ["CRAM-MD5", "LOGIN"], allowPlaintext: true) == .login)
        #expect(SASLMechanism.choose(offered: ["CRAM-MD5", "PLAIN"], allowPlaintext: false) == .cramMD5)
    }

    /// RFC 2104's HMAC-MD5 test vectors, through libcrypto.
    @Test func hmacMD5TestVectors() {
        #expect(CRAMMD5.isAvailable)
        #expect(CRAMMD5.hmac(key: [UInt8](repeating: 0x0b, count: 16), message: Array("Hi There".utf8)).map(CRAMMD5.hex) == "9294727a3638bb1c13f48ef8158bfc9d")
        #expect(CRAMMD5.hmac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)).map(CRAMMD5.hex) == "750c783e6ab0b503eaa86e310a5db738")
        #expect(CRAMMD5.hmac(key: [UInt8](repeating: 0xAA, count: 16), message: [UInt8](repeating: 0xDD, count: 50)).map(CRAMMD5.hex) == "56be34521d144c88dbb8c733f0e8b3f6")
        // A key longer than the block is hashed first (RFC 2202, case 6).
        #expect(CRAMMD5.hmac(key: [UInt8](repeating: 0xAA, count: 80), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)).map(CRAMMD5.hex) == "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")
    }

    @Test func authFailureDefersAndNeverShowsThePassword() {
        var s = Self.plain
        s.credentials = SASLCredentials(username: "user", password: "secret-pw")
        let t = Self.run(s, [.server("220 srv\r\n250-srv\r\n250 AUTH PLAIN\r\n"), .server("535 5.7.8 authentication failed\r\n")])
        #expect(t[2] == "failed 4.7.8 SASL authentication failed; server peer said: 535 5.7.8 authentication failed")
        #expect(!t.joined().contains("secret-pw"))
        #expect(!"\(s.credentials!)".contains("secret-pw"))
    }

    @Test func noPlaintextWithoutTLSRefusesPlainAndLogin() throws {
        var s = Self.plain
        s.credentials = SASLCredentials(username: "u", password: "p")
        s.securityOptions = try SASLSecurityOptions(["noanonymous", "noplaintext"])
        let t = Self.run(s, [.server("220 srv\r\n250-srv\r\n250 AUTH PLAIN LOGIN\r\n")])
        #expect(t[1].hasPrefix("failed 4.7.0 SASL authentication failed; cannot authenticate to server peer"))
    }

    @Test func tlsRequiredButNotOffered() {
        for level in [TLSLevel.encrypt, .verify, .secure] {
            var s = Self.plain
            s.tlsLevel = level
            let t = Self.run(s, [.server("220 srv\r\n250 srv\r\n")])
            #expect(t[1] == "failed 4.7.4 TLS is required, but was not offered by host peer")
        }
        var may = Self.plain
        may.tlsLevel = .may
        #expect(Self.run(may, [.server("220 srv\r\n250 srv\r\n")]) == ["C: EHLO client.test\r\n", "ready"])
    }

    @Test func lostConnectionDuringDataSaysSo() {
        let t = Self.run(Self.plain, [.server(Self.ehlo), .begin(Self.env),
                                      .server("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), .closed])
        #expect(t.last == "close")
        #expect(t.dropLast().last == "failed 4.4.2 lost connection with peer while sending message body")
    }

    @Test func malformedAndOverlongRepliesAreProtocolErrors() {
        #expect(Self.run(Self.plain, [.server("hello\r\n")]).first?.hasPrefix("failed 4.5.0 protocol error") == true)
        let long = "220-" + String(repeating: "x", count: 5000) + "\r\n"
        #expect(Self.run(Self.plain, [.server(long)]).first?.hasPrefix("failed 4.5.0 protocol error") == true)
    }

    @Test func dotStuffingAndLineEnds() {
        var d = DotStuffer()
        var out: [UInt8] = []
        d.encode(Array(".a\nb\r\n..c\nlast".utf8), into: &out)
        d.finish(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "..a\r\nb\r\n...c\r\nlast\r\n")
        // Split anywhere, the same.
        var d2 = DotStuffer()
        var out2: [UInt8] = []
        for b in Array(".a\nb\r\n..c\nlast".utf8) { d2.encode([b], into: &out2) }
        d2.finish(into: &out2)
        #expect(out2 == out)
    }

    @Test func replyParserJoinsMultilineReplies() throws {
        var p = SMTPReplyParser()
        let r = try p.feed(Array("250-a\r\n250-b c\r\n250 d\r\n".utf8))
        #expect(r == [SMTPReply(code: 250, lines: ["a", "b c", "d"])])
        #expect(SMTPReply(code: 550, lines: ["5.1.1 no"]).enhancedStatus == EnhancedStatus(5, 1, 1))
        #expect(SMTPReply(code: 550, lines: ["4.1.1 wrong class"]).enhancedStatus == EnhancedStatus(5, 0, 0))
    }
}

import Foundation
import Pipeline
import PipelineTestKit
import Testing
@testable import Spam

@Suite("rspamd's protocol: HTTP and JSON, no sockets")
struct RspamdProtocolTests {
    static let replyJSON = """
        {"is_skipped":false,"score":6.400000,"required_score":15.0,"action":"add header",
         "symbols":{"MIME_GOOD":{"name":"MIME_GOOD","score":-0.100000,"options":["text/plain"]},
                    "MDAD_TAG":{"name":"MDAD_TAG","score":6.5,"description":"tag"}},
         "messages":{"smtp_message":"Spam \\u00e9 \\ud83d\\ude00"},
         "milter":{"add_headers":{"X-Spamd-Bar":"++++++","X-Top":{"value":"1","order":0},"X-Two":[{"value":"a","order":1},"b"]},
                   "remove_headers":{"X-Spam":0,"X-Old":-1}}}
        """

    @Test func decodesTheReply() throws {
        let r = try RspamdProtocol.parse(json: Array(Self.replyJSON.utf8))
        #expect(r.action == .addHeader && r.isSpam && r.score == 6.4 && r.requiredScore == 15)
        #expect(r.symbols.map(\.name) == ["MDAD_TAG", "MIME_GOOD"])
        #expect(r.symbols[1].options == ["text/plain"])
        #expect(r.smtpMessage == "Spam é 😀")
        #expect(r.addHeaders == [.init(name: "X-Spamd-Bar", value: "++++++", order: nil), .init(name: "X-Top", value: "1", order: 0),
                                 .init(name: "X-Two", value: "a", order: 1), .init(name: "X-Two", value: "b", order: nil)])
        #expect(r.removeHeaders.map(\.name) == ["X-Spam", "X-Old"] && r.removeHeaders.map(\.instance) == [0, -1])
        for bad in ["", "{", "{\"score\":1}", "{\"action\":\"explode\"}", "{\"error\":\"bad request\"}", "[1,2", "{\"action\":\"reject\"} x"] {
            #expect(throws: RspamdProtocol.ProtocolError.self, "\(bad)") { try RspamdProtocol.parse(json: Array(bad.utf8)) }
        }
    }

    @Test func splitsHTTPReplies() throws {
        let body = "{\"action\":\"no action\"}"
        let plain = "HTTP/1.1 200 OK\r\nServer: rspamd/3.4\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)trailing"
        let (status, b) = try RspamdProtocol.parseHTTP(Array(plain.utf8))
        #expect(status == 200 && String(decoding: b, as: UTF8.self) == body)
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"act\r\n11;x=y\r\nion\":\"no action\"}\r\n0\r\n\r\n"
        #expect(String(decoding: try RspamdProtocol.parseHTTP(Array(chunked.utf8)).body, as: UTF8.self) == body)
        #expect(try RspamdProtocol.parseHTTP(Array("HTTP/1.0 500 Internal\r\n\r\n".utf8)).status == 500)
        for bad in ["", "SPAMD/1.1 0 EX_OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}", "HTTP/1.1 200 OK\r\n",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
            #expect(throws: RspamdProtocol.ProtocolError.self, "\(bad.debugDescription)") { try RspamdProtocol.parseHTTP(Array(bad.utf8)) }
        }
    }

    @Test func requestCarriesTheEnvelope() {
        let e = RspamdProtocol.Envelope(sender: "", recipients: ["a@example.com", "b@example.com"], ip: "192.0.2.7",
                                        helo: "mx\r\nEvil: yes", hostname: "mx.example.net", queueID: "Q1", deliverTo: nil)
        let text = String(decoding: RspamdProtocol.request(message: Array("X".utf8), envelope: e, host: "localhost"), as: UTF8.self)
        #expect(text == "POST /checkv2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 1\r\nFrom: <>\r\n"
            + "Rcpt: a@example.com\r\nRcpt: b@example.com\r\nIP: 192.0.2.7\r\nHelo: mxEvil: yes\r\nHostname: mx.example.net\r\nQueue-Id: Q1\r\n\r\nX")
    }

    @Test func readsTheClientFromPostfixsReceived() {
        let c = RspamdStage.receivedClient("from mx.example.net (mail.example.net [192.0.2.7])\n\tby mx.example.com (Postfix) with ESMTP id 4Zx")
        #expect(c.helo == "mx.example.net" && c.hostname == "mail.example.net" && c.ip == "192.0.2.7")
        let unknown = RspamdStage.receivedClient("from [192.0.2.9] (unknown [IPv6:2001:db8::1]) by mx")
        #expect(unknown.helo == "[192.0.2.9]" && unknown.hostname == nil && unknown.ip == "2001:db8::1")
        let other = RspamdStage.receivedClient("by localhost with LMTP")
        #expect(other.helo == nil && other.ip == nil)
    }

    @Test func jsonLimitsAndEscapes() throws {
        #expect(try JSONValue.parse(Array(#" [1, -2.5e1, true, null, "a\"\\\/\n\u0041"] "#.utf8))
            == .array([.number(1), .number(-25), .bool(true), .null, .string("a\"\\/\nA")]))
        let deep = String(repeating: "[", count: JSONValue.maxDepth + 1) + String(repeating: "]", count: JSONValue.maxDepth + 1)
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        #expect((try? JSONValue.parse(Array(ok.utf8))) != nil)
        for bad in ["01x", "-", "1.", "\"\u{01}\"", "\"\\x\"", "tru", "{\"a\" 1}", "[1,]"] {
            #expect(throws: JSONValue.SyntaxError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }
}

@Suite("The rspamd stage against Debian's rspamd", .serialized)
struct RspamdStageTests {
    /// One rspamd for all the checks that need it (it takes seconds to start), stopped by
    /// PID at the end whatever happens.
    @Test func actionsWithARealRspamd() async throws {
        try #require(RspamdHarness.installed, "rspamd is not installed (scripts/deps TEST_PACKAGES)")
        let rspamd = try RspamdHarness()
        defer { rspamd.stop() }
        let server = "inet:127.0.0.1:\(rspamd.port)"
        try await cleanMessagePassesWithHeaders(server)
        try rspamdSeesTheEnvelope(server)
        try await gtubeIsRejectedForEveryRecipient(server)
        try await rejectAction(server)
        try await greylistDefers(server)
        try await addHeaderTagsAndFiles(server)
        try await rewriteSubject(server)
    }

    static func message(subject: String, body: String = "Hi Bob, are we still meeting for lunch on Thursday?",
                        to: String = "bob@example.com", extra: String = "") -> String {
        """
        Received: from mx.example.net (mx.example.net [192.0.2.7])
        \tby mail.example.com (Postfix) with ESMTP id 4ZxK2m0yQz
        \tfor <bob@example.com>; Wed, 25 Nov 2026 01:00:00 +0000
        From: Alice <alice@example.org>
        To: \(to)
        Subject: \(subject)
        Date: Wed, 25 Nov 2026 01:00:00 +0000
        Message-ID: <1.2@example.org>
        \(extra)MIME-Version: 1.0
        Content-Type: text/plain; charset=us-ascii

        \(body)

        """
    }

    static let gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

    func run(_ server: String, _ text: String, to recipients: [String] = ["bob@example.com"], folder: String? = nil) async throws -> Transaction {
        var t = try Transaction.literal(text, from: "alice@example.org", to: recipients)
        await t.run(RspamdStage(server: server, timeout: 20, folder: folder, hostName: "mx.example.com"))
        return t
    }

    func cleanMessagePassesWithHeaders(_ server: String) async throws {
        // A sender's own X-Spam-Score (X-Spam-Status or X-Spam-Flag would make rspamd add
        // SPAM_FLAG) must give way to ours.
        let t = try await run(server, Self.message(subject: "lunch", extra: "X-Spam-Score: 99.9\n"))
        let h = t.message.header
        #expect(h.all("X-Spam-Score").count == 1 && h["X-Spam-Score"]?.value != "99.9", "\(h.all("X-Spam-Score").map(\.value))")
        #expect(t.recipients[0].isPending && t.recipients[0].actions.isEmpty)
        #expect(h["X-Spam-Flag"] == nil)
        let status = h.all("X-Spam-Status").map(\.value)
        #expect(status.count == 1, "\(status)")
        #expect(status.first?.hasPrefix("No, score=") == true, "\(status)")
        #expect(status.first?.contains("required=15.0") == true, "\(status)")
        #expect(h["X-Spam-Score"] != nil && h["X-Spam-Level"] != nil)
    }

    func rspamdSeesTheEnvelope(_ server: String) throws {
        // Asked directly: rspamd's own symbols say what it was told.
        let stage = RspamdStage(server: server)
        let text = Self.message(subject: "lunch", to: "bob@example.com, carol@example.com")
        let t = try Transaction.literal(text, from: "alice@example.org", to: ["bob@example.com", "carol@example.com"])
        let e = stage.envelope(of: t)
        #expect(e.ip == "192.0.2.7" && e.helo == "mx.example.net" && e.hostname == "mx.example.net" && e.deliverTo == nil)
        let raw = try RspamdClient.exchange(server, RspamdProtocol.request(message: Array(text.utf8), envelope: e, host: "localhost"), timeout: 20)
        let (status, body) = try RspamdProtocol.parseHTTP(raw)
        #expect(status == 200)
        let names = Set(try RspamdProtocol.parse(json: body).symbols.map(\.name))
        #expect(names.contains("FROM_EQ_ENVFROM"), "From: not seen: \(names.sorted())")
        // All of To: among the envelope recipients: both Rcpt: headers were read.
        #expect(names.contains("TO_MATCH_ENVRCPT_ALL"), "Rcpt: not seen: \(names.sorted())")
    }

    func gtubeIsRejectedForEveryRecipient(_ server: String) async throws {
        let t = try await run(server, Self.message(subject: "hello", body: Self.gtube), to: ["bob@example.com", "carol@example.com"])
        for r in t.recipients {
            guard case .rejected(let s) = r.state else { Issue.record("\(r.address) not rejected: \(r.state)"); continue }
            #expect(s.status == .policyRejection)
            #expect(s.text == "Gtube pattern", "rspamd's smtp_message: \(s.text)")
        }
    }

    func rejectAction(_ server: String) async throws {
        let t = try await run(server, Self.message(subject: "offer MDAD-REJECT"))
        guard case .rejected(let s) = t.recipients[0].state else { Issue.record("not rejected: \(t.recipients[0].state)"); return }
        #expect(s.status == EnhancedStatus(5, 7, 1))
    }

    func greylistDefers(_ server: String) async throws {
        let t = try await run(server, Self.message(subject: "offer MDAD-GREY"))
        guard case .deferred(let s) = t.recipients[0].state else { Issue.record("not deferred: \(t.recipients[0].state)"); return }
        #expect(s.status == EnhancedStatus(4, 7, 1))
    }

    func addHeaderTagsAndFiles(_ server: String) async throws {
        let text = Self.message(subject: "offer MDAD-TAG")
        let t = try await run(server, text, to: ["bob@example.com", "carol@example.com"], folder: "Junk")
        // rspamd asked directly with the same envelope: the headers must say what it said.
        let stage = RspamdStage(server: server)
        let raw = try RspamdClient.exchange(server, RspamdProtocol.request(message: Array(text.utf8), envelope: stage.envelope(of: t), host: "localhost"), timeout: 20)
        let reply = try RspamdProtocol.parse(json: try RspamdProtocol.parseHTTP(raw).body)
        #expect(reply.action == .addHeader && reply.score >= 6 && reply.score < 8)
        let score = RuleSet.format1(reply.score)
        let tests = reply.symbols.filter { $0.score != 0 }.map(\.name)
        let h = t.message.header
        #expect(h.all("X-Spam-Flag").map(\.value) == ["YES"])
        let status = h["X-Spam-Status"]?.value ?? ""
        #expect(status.hasPrefix("Yes, score=\(score) required=15.0"), "\(status)")
        let listed = status.components(separatedBy: "tests=").last?.components(separatedBy: " autolearn").first?
            .split(whereSeparator: { $0 == "," || $0 == "\t" || $0 == "\n" || $0 == " " }).map(String.init)
        #expect(listed == tests && tests.contains("MDAD_TAG"), "\(status)")
        #expect(h["X-Spam-Score"]?.value == score)
        #expect(h["X-Spam-Level"]?.value == String(repeating: "*", count: Int(reply.score)))
        #expect(h["Subject"]?.value == "offer MDAD-TAG")
        #expect(t.recipients.map(\.actions) == [[.store(folder: "Junk", flags: [])], [.store(folder: "Junk", flags: [])]])
    }

    func rewriteSubject(_ server: String) async throws {
        let t = try await run(server, Self.message(subject: "offer MDAD-REWRITE"))
        #expect(t.message.header.all("Subject").map(\.value) == ["[SPAM] offer MDAD-REWRITE"])
        #expect(t.message.header["X-Spam-Flag"]?.value == "YES")
        #expect(t.recipients[0].isPending && t.recipients[0].actions.isEmpty, "no folder configured: tag only")
    }

    @Test func deadRspamdFollowsThePolicy() async throws {
        // A port nothing listens on: rspamd is down.
        let closed = "inet:127.0.0.1:\(Int.random(in: 40_001...50_000))"
        var open = try Transaction.literal(Self.message(subject: "offer MDAD-REJECT", extra: "X-Spam-Status: Yes, forged by the sender\n"))
        let log = TestLog()
        await Chain([Chain.Step(name: "rspamd", stage: RspamdStage(server: closed, timeout: 2, policy: .accept))])
            .run(&open, context: StageContext.forTesting(log: log))
        #expect(open.recipients[0].isPending)
        #expect(open.message.header.all("X-Spam-Status").map(\.value) == ["Yes, forged by the sender"], "unscanned: left as it was")
        #expect(log.lines.contains { $0.contains("delivered unscanned") })

        var tempfail = try Transaction.literal(Self.message(subject: "lunch"))
        await tempfail.run(RspamdStage(server: closed, timeout: 2, policy: .tempfail))
        guard case .deferred(let s) = tempfail.recipients[0].state else { Issue.record("not deferred: \(tempfail.recipients[0].state)"); return }
        #expect(s.status == EnhancedStatus(4, 7, 1))
    }

    @Test func stalledRspamdIsBoundedByTheTimeout() async throws {
        // A listener that never accepts: connect and send succeed (the kernel's backlog takes
        // them), and no reply ever comes.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(fd, 8) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))

        let start = Date()
        var t = try Transaction.literal(Self.message(subject: "lunch"))
        await t.run(RspamdStage(server: "127.0.0.1:\(port)", timeout: 2, policy: .tempfail))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 1.9 && elapsed < 4, "took \(elapsed) s with rspamd_timeout = 2")
        guard case .deferred(let s) = t.recipients[0].state else { Issue.record("not deferred: \(t.recipients[0].state)"); return }
        #expect(s.status == EnhancedStatus(4, 7, 1))
    }
}

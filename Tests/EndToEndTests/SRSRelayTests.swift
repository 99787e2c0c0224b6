import Foundation
import Plugins
import Testing

/// SRS end to end: `mdad serve` as the null client with `srs_domain`, an alias forwarding to a
/// remote address, and the scripted SMTP server as the relay. The forward leaves with the
/// rewritten sender; a bounce to that address over LMTP goes back to the original sender;
/// a forged one is refused at RCPT.
@Suite("SRS: forwards through aliases and bounces back, at a loopback relay", .serialized)
struct SRSRelayTests {
    @Test func aliasForwardIsRewrittenAndItsBounceIsReversed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-srs-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let secrets = dir.appendingPathComponent("srs_secrets").path
        try "e2e-secret\n".write(toFile: secrets, atomically: true, encoding: .utf8)
        let aliases = dir.appendingPathComponent("aliases").path
        try "fwd remote@example.net\n".write(toFile: aliases, atomically: true, encoding: .utf8)
        let s = try ScriptedSMTPServer(directory: dir)
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)", extra: """
            mydestination = example.test
            alias_maps = texthash:\(aliases)
            pipeline = srs, aliases
            srs_domain = fwd.example.test
            srs_secrets = \(secrets)
            """)
        try c.start()
        defer { c.stop(); s.stop() }
        let lmtp = "127.0.0.1:\(c.lmtpPort)"

        // 1. A forward through the alias: the relay sees the SRS0 sender.
        let sent = try LMTPInstance.lmtpClient("envelope", address: lmtp, stdin: "alice@origin.example\nfwd@example.test\nSubject: forwarded\n\nhello\n")
        #expect((sent["replies"] as? [String])?.first?.hasPrefix("250") == true, "\(sent) \(c.log)")
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        let forward = try #require(s.received.first)
        #expect(forward.to == ["remote@example.net"])
        #expect(forward.from.hasPrefix("SRS0=") && forward.from.hasSuffix("=origin.example=alice@fwd.example.test"), "\(forward.from)")
        // The test's own reading of the address (the same secret) gives the original sender back.
        let srs = SRS(domain: "fwd.example.test", secrets: [Array("e2e-secret".utf8)])
        #expect(try srs.reverse(forward.from) == "alice@origin.example")

        // 2. A sender in mydestination is not rewritten.
        _ = try LMTPInstance.lmtpClient("envelope", address: lmtp, stdin: "bob@example.test\nfwd@example.test\nSubject: local\n\nhi\n")
        #expect(waitUntil(20) { s.received.count == 2 }, "\(c.log)")
        #expect(s.received.contains { $0.from == "bob@example.test" && $0.to == ["remote@example.net"] })

        // 3. The remote side bounces to the SRS address: it goes back to alice, from <>.
        let bounced = try LMTPInstance.lmtpClient("envelope", address: lmtp, stdin: "\n\(forward.from)\nSubject: Undelivered Mail\n\nno such user\n")
        #expect((bounced["envelope"] as? [String])?.dropFirst(2).first?.hasPrefix("250") == true, "\(bounced)")
        #expect(waitUntil(20) { s.received.count == 3 }, "\(c.log)")
        let back = try #require(s.received.first { $0.data.contains("Undelivered Mail") })
        #expect(back.from == "" && back.to == ["alice@origin.example"])

        // 4. Forged (another user under the same hash) and expired addresses are refused at RCPT.
        let forged = forward.from.replacingOccurrences(of: "=alice@", with: "=mallory@")
        let old = try #require(srs.forward("alice@origin.example", now: Int(Date().timeIntervalSince1970) - 40 * 86_400))
        let refused = try LMTPInstance.lmtpClient("envelope", address: lmtp, stdin: "\n\(forged) \(old)\nSubject: x\n\ny\n")
        let replies = (refused["envelope"] as? [String]) ?? []
        #expect(replies.count == 5, "\(refused)")
        #expect(replies.dropFirst(2).first?.hasPrefix("550 5.7.1") == true, "\(replies)")
        #expect(replies.dropFirst(2).first?.contains("SRS") == true)
        #expect(replies.dropFirst(3).first?.hasPrefix("550 5.7.1") == true, "\(replies)")
        #expect(c.log.contains("srs_reverse: <\(forged)> refused: hash invalid"), "\(c.log)")
        #expect(c.log.contains("timestamp out of date"))
        #expect(s.received.count == 3)
    }
}

import Foundation
import Testing

/// The rewrite stage behind `mdad serve`: whether headers are rewritten depends on the LMTP
/// client (local_header_rewrite_clients); the envelope always is.
@Suite("rewrite stage end to end (mdad serve)", .serialized)
struct RewriteLMTPTests {
    static func deliver(_ extra: String, address: (LMTPInstance) -> String) throws -> String {
        let server = try LMTPInstance(extraMainCF: "pipeline = rewrite\nmyorigin = example.org\n" + extra)
        defer { server.cleanup() }
        _ = try server.client("rewrite", address: address(server))
        let files = server.files("alice")
        try #require(files.count == 1)
        return try String(contentsOf: files[0], encoding: .utf8)
    }

    @Test func loopbackAndUnixSocketClientsAreLocal() throws {
        for pick in [{ (s: LMTPInstance) in "127.0.0.1:\(s.port)" }, { (s: LMTPInstance) in s.socketPath }] {
            let text = try Self.deliver("", address: pick)
            #expect(text.hasPrefix("Return-Path: <sender@example.org>\n"), "\(text.prefix(120))")
            #expect(text.contains("\nFrom: Alice <alice@example.org>\nTo: bob@example.org, carol@example.org\n"), "\(text)")
        }
    }

    @Test func otherClientsKeepTheirHeadersUnlessARemoteDomainIsSet() throws {
        let tcp = { (s: LMTPInstance) in "127.0.0.1:\(s.port)" }
        let untouched = try Self.deliver("local_header_rewrite_clients =\n", address: tcp)
        #expect(untouched.hasPrefix("Return-Path: <sender@example.org>\n"), "the envelope is rewritten: \(untouched.prefix(120))")
        #expect(untouched.contains("\nFrom: Alice <alice>\nTo: bob, carol@example.org\n"), "\(untouched)")
        let remote = try Self.deliver("local_header_rewrite_clients =\nremote_header_rewrite_domain = remote.example\n", address: tcp)
        #expect(remote.contains("\nFrom: Alice <alice@remote.example>\nTo: bob@remote.example, carol@example.org\n"), "\(remote)")
    }

    @Test func headerChecksRejectIs550571ForEveryRecipient() throws {
        let server = try LMTPInstance(extraMainCF: "pipeline = rewrite\nheader_checks = pcre:{ {/^Subject: buy now/ REJECT no thanks} }\n")
        defer { server.cleanup() }
        let out = try server.client("raw-message", stdin: "alice@example.com bob@example.com\nFrom: x@example.org\nSubject: buy now\n\nbody\n")
        let replies = out["replies"] as? [String] ?? []
        #expect(replies == ["550 5.7.1 <alice@example.com>: no thanks", "550 5.7.1 <bob@example.com>: no thanks"], "\(replies)")
        #expect(server.files("alice").isEmpty && server.files("bob").isEmpty)
    }
}

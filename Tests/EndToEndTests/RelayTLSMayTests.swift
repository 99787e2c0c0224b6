import Foundation
import Testing

/// `smtp_tls_security_level = may`: a STARTTLS that fails is followed at once by a plaintext
/// session to the same server, as Postfix does; `encrypt` defers instead.
@Suite("relay: opportunistic TLS falls back to plaintext", .serialized)
struct RelayTLSMayTests {
    @Test func brokenStartTLSUnderMayIsDeliveredInPlaintextAndDeferredUnderEncrypt() throws {
        let ca = try TestCA()
        let cert = try ca.issue("localhost")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-may-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--cert", cert.cert, "--key", cert.key, "--broken-tls"])
        let may = try NullClient(relayhost: "[localhost]:\(s.port)", extra: "smtp_tls_security_level = may")
        try may.start()
        defer { may.stop(); s.stop() }
        #expect(try may.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: may\n\nbody\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(may.log)")
        #expect(s.received.first?.tls == false)
        let commands = s.commands
        let starttls = try #require(commands.range(of: "STARTTLS"), "\(commands)")
        #expect(commands[starttls.upperBound...].contains("EHLO client.example.test"), "a second, plaintext session: \(commands)")

        let encrypt = try NullClient(relayhost: "[localhost]:\(s.port)", extra: "smtp_tls_security_level = encrypt")
        try encrypt.start()
        defer { encrypt.stop() }
        #expect(try encrypt.sendmail(["-f", "alice@example.test", "carol@example.net"], "Subject: encrypt\n\nbody\n").status == 0)
        #expect(waitUntil(20) { encrypt.files("deferred").count == 1 }, "\(encrypt.log)")
        #expect(s.received.count == 1)
    }
}

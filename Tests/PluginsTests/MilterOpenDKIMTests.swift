import Foundation
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The milter stage against a real milter: Debian's opendkim signs through mdad, a second
/// opendkim verifies the stored message through mdad too, and opendkim-testmsg checks the
/// signature with the library directly.
@Suite("milter stage with opendkim", .enabled(if: OpenDKIMPeer.available))
struct MilterOpenDKIMTests {
    static let message = """
        From: Alice <alice@example.com>\r
        To: Bob <bob@example.net>\r
        Subject: signed by a milter\r
        Date: Wed, 25 Nov 2026 03:00:00 +0000\r
        Message-ID: <m1@example.com>\r
        \r
        Hello Bob,\r
        this body is signed.\r

        """

    func client(_ peer: OpenDKIMPeer) -> MilterClient {
        MilterClient(endpoint: .inet(host: "127.0.0.1", port: UInt16(peer.port)),
                     timeouts: .init(connect: 5, command: 10, content: 10))
    }

    func bytes(_ m: Message) throws -> [UInt8] {
        var sink = BufferSink()
        try m.write(to: &sink)
        return sink.bytes
    }

    @Test func opendkimSignsAndAnotherOpendkimVerifies() async throws {
        let keys = TempDir()
        let publicKey = try OpenDKIMPeer.makeKey(in: keys.path, domain: "example.com", selector: "test")
        let signer = try OpenDKIMPeer(.sign, keyDirectory: keys.path)
        let verifier = try OpenDKIMPeer(.verify, keyDirectory: keys.path, publicKey: publicKey)
        defer { signer.stop(); verifier.stop() }

        var tx = try Transaction.literal(Self.message, from: "alice@example.com", to: ["bob@example.net"])
        tx.tracing = true
        await tx.run(MilterStage(clients: [client(signer), client(verifier)]), named: "milter")
        #expect(tx.recipients[0].isPending, "state: \(tx.recipients[0].state); signer log: \(signer.logText)")

        let signature = try #require(tx.message.header["DKIM-Signature"], "no signature; log: \(signer.logText)")
        #expect(signature.value.contains("d=example.com"))
        #expect(signature.value.contains("s=test"))
        // The verifier saw the message as mdad will store it and found the signature good.
        let results = try #require(tx.message.header["Authentication-Results"], "log: \(verifier.logText)")
        #expect(results.value.contains("dkim=pass"), "Authentication-Results: \(results.value)")
        #expect(tx.traceEvents.contains { $0.kind == .header && $0.text.contains("DKIM-Signature") })

        let stored = String(decoding: try bytes(tx.message), as: UTF8.self)
        #expect(stored.hasPrefix("From: Alice") || stored.contains("\nFrom: Alice"))
        #expect(stored.contains("this body is signed."))
    }

    @Test func aMessageChangedAfterSigningFailsVerification() async throws {
        let keys = TempDir()
        let publicKey = try OpenDKIMPeer.makeKey(in: keys.path, domain: "example.com", selector: "test")
        let signer = try OpenDKIMPeer(.sign, keyDirectory: keys.path)
        let verifier = try OpenDKIMPeer(.verify, keyDirectory: keys.path, publicKey: publicKey)
        defer { signer.stop(); verifier.stop() }

        var tx = try Transaction.literal(Self.message, from: "alice@example.com", to: ["bob@example.net"])
        await tx.run(MilterStage(clients: [client(signer)]))
        // Tamper with the signed Subject, then verify: the verifier must say fail.
        let i = try #require(tx.message.header.fields.firstIndex { $0.hasName("Subject") })
        tx.message.header.fields[i] = try HeaderField(name: "Subject", value: "changed in transit")
        await tx.run(MilterStage(clients: [client(verifier)]))
        let results = try #require(tx.message.header["Authentication-Results"], "log: \(verifier.logText)")
        #expect(results.value.contains("dkim=fail"), "Authentication-Results: \(results.value)")
    }

    @Test func anUnreachableMilterFollowsTheDefaultAction() async throws {
        let port = try OpenDKIMPeer.freePort()
        let dead = MilterClient(endpoint: .inet(host: "127.0.0.1", port: UInt16(port)), timeouts: .init(connect: 2))
        var tempfail = try Transaction.literal(Self.message)
        await tempfail.run(MilterStage(clients: [dead]))
        #expect(tempfail.recipients[0].state.status?.status == EnhancedStatus(4, 7, 1))
        var accept = try Transaction.literal(Self.message)
        await accept.run(MilterStage(clients: [dead], defaultAction: .accept))
        #expect(accept.recipients[0].isPending)
        var reject = try Transaction.literal(Self.message)
        await reject.run(MilterStage(clients: [dead], defaultAction: .reject))
        #expect(reject.recipients[0].state.status?.status == .policyRejection)
    }
}

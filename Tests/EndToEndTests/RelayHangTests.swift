import Foundation
import Testing

/// A relay that hangs — silent after accepting the connection, or silent after the message's
/// final dot — is a bounded, logged, temporary failure: the message is deferred with
/// Postfix's wording once the timeout passes, and stays in the queue.
@Suite("relay: a relay that hangs", .serialized)
struct RelayHangTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/hanging_smtp.py").path
    }

    func run(mode: String, timeouts: String, expect reason: String) throws {
        let dir = URL(fileURLWithPath: "/tmp/mdad-hang-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try freeLoopbackPort()
        let server = try spawnChild("/usr/bin/python3", [Self.script, "--port", "\(port)", "--out", dir.path, "--mode", mode],
                                    output: dir.appendingPathComponent("server.out").path)
        defer { stopChild(server) }
        #expect(waitUntil(10) { FileManager.default.fileExists(atPath: dir.appendingPathComponent("ready").path) })
        let c = try NullClient(relayhost: "[127.0.0.1]:\(port)", extra: timeouts)
        try c.start()
        defer { c.stop() }
        let started = Date()
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: hang\n\nbody\n").status == 0)
        #expect(waitUntil(30) { c.files("deferred").count == 1 }, "\(c.log)")
        let waited = Date().timeIntervalSince(started)
        #expect(waited < 20, "deferred only after \(waited) s")
        let q = try c.mdad(["mailq"])
        #expect(q.stdout.contains(reason), "\(q.stdout)")
        #expect(c.log.contains("status=deferred") && c.log.contains(reason), "\(c.log)")
    }

    @Test func aSilentRelayTimesOutAtTheGreeting() throws {
        try run(mode: "silent", timeouts: "smtp_helo_timeout = 2s",
                expect: "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting")
    }

    @Test func aRelaySilentAfterTheDotTimesOutAndKeepsTheMessage() throws {
        try run(mode: "at-dot", timeouts: "smtp_data_done_timeout = 2s",
                expect: "conversation with 127.0.0.1[127.0.0.1] timed out while sending end of data -- message may be sent more than once")
    }
}

import Foundation
import Testing

/// SIGKILL at random moments while clients deliver over LMTP, many times over (a short run
/// here; bench/crash.sh runs it for as long as wanted): no message that got a 250 is lost or
/// partial, and the killed servers' tmp/ files are gone after the restart's first delivery.
/// A kill between a file's link into new/ and the 250 reaching the client makes the client
/// send again: that copy is the one duplicate the protocol allows, counted and reported.
@Suite("crash consistency: SIGKILL", .serialized)
struct CrashTests {
    @Test func killedAtRandomNothingAcknowledgedIsLost() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-crash-\(UUID().uuidString.prefix(8))")
        let vmail = root.appendingPathComponent("vmail")
        try FileManager.default.createDirectory(at: vmail, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("etc"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let port = try freeLoopbackPort()
        try """
            myhostname = mx.example.test
            lmtp_listen = inet:127.0.0.1:\(port)
            virtual_mailbox_domains = example.com
            virtual_mailbox_base = \(vmail.path)
            virtual_mailbox_maps = inline:{ alice@example.com=alice/ }
            virtual_uid_maps = static:\(geteuid())
            virtual_gid_maps = static:\(getegid())
            virtual_minimum_uid = 0
            maillog_file = \(root.path)/maillog
            spool_directory = \(root.path)
            maildir_sync = group
            """.write(to: root.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/crash_harness.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, MDAD.binary, root.appendingPathComponent("etc").path, "\(port)",
                       vmail.appendingPathComponent("alice").path, "240", "12"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let result = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        print("crash harness: \(result)")
        #expect(result["kills"] as? Int == 12)
        #expect(result["acked"] as? Int == 240)
        #expect(result["lost"] as? Int == 0)
        #expect(result["partial"] as? Int == 0)
        // Four clients: at most the four messages in flight at each kill are sent again.
        #expect((result["duplicates"] as? Int ?? 999) <= 12 * 4, "at most one duplicate per message in flight at a kill")
        #expect(result["tmp_left"] as? Int == 0)
        #expect(result["final_delivery"] as? Bool == true)
    }
}

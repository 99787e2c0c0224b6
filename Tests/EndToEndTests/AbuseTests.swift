import Foundation
import Testing

/// Load and abuse against `mdad serve`: each is answered correctly and bounded in memory and
/// time (peak resident memory read from /proc after each).
@Suite("load and abuse", .serialized)
struct AbuseTests {
    static func run(_ scenario: String, _ server: LMTPInstance) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/abuse_client.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, scenario, "127.0.0.1:\(server.port)"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SkipReason("abuse_client \(scenario): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
        return json
    }

    static func peakMB(_ server: LMTPInstance) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) } ?? 0
        return kb / 1024
    }

    @Test func aThousandConcurrentConnectionsAllDeliver() throws {
        let server = try LMTPInstance(extraMainCF: "lmtp_max_connections = 1100\n")
        defer { server.cleanup() }
        let r = try Self.run("connections", server)
        print("1000 connections: \(r), peak \(Self.peakMB(server)) MB")
        #expect(r["greeted"] as? Int == 1000)
        #expect(r["delivered"] as? Int == 1000)
        #expect(server.files("alice").count == 1000)
        #expect(Self.peakMB(server) < 512)
    }

    @Test func aClientTricklingBytesIsCutOffAndStarvesNoOne() throws {
        let server = try LMTPInstance(extraMainCF: "lmtp_timeout = 3\n")
        defer { server.cleanup() }
        let r = try Self.run("slow", server)
        print("slow client: \(r)")
        #expect((r["normal"] as? [String])?.first?.hasPrefix("250") == true, "the other client is served")
        #expect((r["slow_reply"] as? String)?.hasPrefix("421 4.4.2") == true, "\(r)")
        let cut = r["cut_after"] as? Double ?? 99
        #expect(cut >= 2.5 && cut < 8, "cut off by the per-record deadline, not by the trickle ending (\(cut) s)")
    }

    @Test func tenThousandPipelinedRecipientsAreEachAnswered() throws {
        let server = try LMTPInstance()
        defer { server.cleanup() }
        let r = try Self.run("rcpt-flood", server)
        print("10,000 pipelined RCPTs: \(r), peak \(Self.peakMB(server)) MB")
        #expect(r["accepted"] as? Int == 1000, "lmtp_recipient_limit")
        #expect(((r["accepted"] as? Int) ?? 0) + ((r["refused"] as? Int) ?? 0) == 10000)
        #expect((r["last"] as? String)?.hasPrefix("221") == true)
        #expect(Self.peakMB(server) < 256)
    }

    @Test func headerBombsAndDeepMIMEAreDeliveredInBoundedMemory() throws {
        let server = try LMTPInstance(extraMainCF: "message_size_limit = 20000000\nmailbox_size_limit = 0\n")
        defer { server.cleanup() }
        let bombs = try Self.run("header-bomb", server)
        print("header bombs: \(bombs), peak \(Self.peakMB(server)) MB")
        #expect((bombs["many_headers"] as? [String])?.first?.hasPrefix("250") == true, "\(bombs)")
        #expect((bombs["long_line"] as? [String])?.first?.hasPrefix("250") == true, "\(bombs)")
        #expect((bombs["seconds"] as? Double ?? 999) < 60)
        let deep = try Self.run("deep-mime", server)
        print("1000-level MIME: \(deep), peak \(Self.peakMB(server)) MB")
        #expect((deep["reply"] as? [String])?.first?.hasPrefix("250") == true, "\(deep)")
        #expect(server.files("alice").count == 3, "every message is stored whole: nothing dropped for its shape")
        #expect(Self.peakMB(server) < 256)
    }
}

import Foundation
import Pipeline
import PipelineTestKit
import Testing
@testable import Spam

/// Debian's spamd on loopback with a small rule set, started and stopped by the test.
struct SpamdHarness {
    let sa: SpamAssassinHarness
    let process: Process
    let port: Int

    static var installed: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/spamd") }

    init(rules: String) throws {
        sa = try SpamAssassinHarness(rules: rules)
        // spamd drops its privileges to nobody: everything it reads must be world-readable.
        for path in [sa.directory.path, sa.siteConfig.path, sa.rulesDirectory, sa.directory.appendingPathComponent("home").path] {
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: path)
        }
        port = Int.random(in: 20_000...40_000)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/spamd")
        process.arguments = ["-L", "-x", "-i", "127.0.0.1", "-p", "\(port)", "-u", "nobody", "-s", "stderr",
                             "--max-children=1", "--min-children=1", "--configpath=\(sa.rulesDirectory)",
                             "--siteconfigpath=\(sa.siteConfig.path)", "--pidfile=\(sa.directory.path)/spamd.pid"]
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = sa.directory.appendingPathComponent("home").path
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Ready when it answers a PING.
        let deadline = Date().addingTimeInterval(90)
        var last = ""
        while Date() < deadline {
            do {
                let r = try SpamdClient.exchange("127.0.0.1:\(port)", Array("PING SPAMC/1.5\r\n\r\n".utf8), timeout: 2)
                if String(decoding: r, as: UTF8.self).contains("PONG") { return }
                last = String(decoding: r, as: UTF8.self)
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        stop()
        throw SpamdProtocol.ProtocolError(description: "spamd did not start on port \(port): \(last)")
    }

    /// SIGTERM, and SIGKILL when spamd has not exited within 10 seconds.
    func stop() {
        let pid = process.processIdentifier
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        sa.remove()
    }
}

@Suite("The spamd stage against Debian's spamd", .serialized)
struct SpamdStageTests {
    @Test func parsesReplies() throws {
        let reply = try SpamdProtocol.parse(Array("SPAMD/1.1 0 EX_OK\r\nContent-length: 9\r\nSpam: True ; 15.3 / 5.0\r\n\r\nA_RULE,B\r\n".utf8))
        #expect(reply.isSpam && reply.score == 15.3 && reply.threshold == 5.0)
        #expect(reply.symbols == ["A_RULE", "B"])
        #expect(throws: SpamdProtocol.ProtocolError.self) { try SpamdProtocol.parse(Array("SPAMD/1.1 76 Bad header line\r\n\r\n".utf8)) }
        #expect(throws: SpamdProtocol.ProtocolError.self) { try SpamdProtocol.parse(Array("HTTP/1.0 200 OK\r\n\r\n".utf8)) }
        // Found by fuzzing: a negative length is a bad reply, not a crash.
        #expect(throws: SpamdProtocol.ProtocolError.self) {
            try SpamdProtocol.parse(Array("SPAMD/1.1 0 EX_OK\r\nContent-length: -71\r\nSpam: True ; 1 / 5\r\n\r\nx".utf8))
        }
        #expect(String(decoding: SpamdProtocol.request(.symbols, message: Array("x".utf8), user: "bob"), as: UTF8.self)
            == "SYMBOLS SPAMC/1.5\r\nContent-length: 1\r\nUser: bob\r\n\r\nx")
    }

    @Test func scoresWithARealSpamd() async throws {
        try #require(SpamdHarness.installed, "spamd is not installed (scripts/deps TEST_PACKAGES)")
        let spamd = try SpamdHarness(rules: stageRules)
        defer { spamd.stop() }
        let stage = SpamdStage(address: "127.0.0.1:\(spamd.port)", timeout: 30, folder: "Junk")

        var spam = try Transaction.literal(SpamStageTests.spam, to: ["u1@example.com", "u2@example.com"])
        await spam.run(stage)
        #expect(spam.message.header["X-Spam-Flag"]?.value == "YES")
        let status = spam.message.header["X-Spam-Status"]?.value ?? ""
        #expect(status.hasPrefix("Yes, score=10.3 required=5.0"), "\(status)")
        #expect(status.contains("MDAD_VIAGRA"))
        #expect(spam.message.header.all("X-Spam-Status").count == 1, "the sender's forged X-Spam-Status must be gone")
        #expect(spam.recipients.map(\.actions) == [[.store(folder: "Junk", flags: [])], [.store(folder: "Junk", flags: [])]])

        // The spam stage with the same rules gives the same status line.
        let local = try RuleSet.load(paths: spamd.sa.rulePaths).check(Message.literal(SpamStageTests.spam))
        #expect(status.hasPrefix("Yes, score=\(RuleSet.format1(local.score)) required=5.0"))

        var ham = try Transaction.literal(SpamStageTests.ham)
        await ham.run(stage)
        #expect(ham.message.header["X-Spam-Flag"] == nil)
        #expect(ham.message.header["X-Spam-Status"]?.value.hasPrefix("No, score=-1.5") == true)
        #expect(ham.recipients[0].actions.isEmpty && ham.recipients[0].isPending)

        var rejected = try Transaction.literal(SpamStageTests.spam)
        await rejected.run(SpamdStage(address: "127.0.0.1:\(spamd.port)", rejectScore: 8))
        guard case .rejected(let s) = rejected.recipients[0].state else { Issue.record("not rejected"); return }
        #expect(s.status == .policyRejection)
    }

    @Test func failurePolicy() async throws {
        // A port nothing listens on: spamd is down.
        let closed = "127.0.0.1:\(Int.random(in: 40_001...50_000))"
        var open = try Transaction.literal(SpamStageTests.spam)
        let log = TestLog()
        await Chain([Chain.Step(name: "spamd", stage: SpamdStage(address: closed, timeout: 2, policy: .accept))])
            .run(&open, context: StageContext.forTesting(log: log))
        #expect(open.recipients[0].isPending)
        #expect(open.message.header.all("X-Spam-Status").map(\.value) == ["forged"])
        #expect(log.lines.contains { $0.contains("delivered unscanned") })

        var tempfail = try Transaction.literal(SpamStageTests.spam)
        await tempfail.run(SpamdStage(address: closed, timeout: 2, policy: .tempfail))
        guard case .deferred(let s) = tempfail.recipients[0].state else { Issue.record("not deferred: \(tempfail.recipients[0].state)"); return }
        #expect(s.status == EnhancedStatus(4, 7, 1))
    }
}

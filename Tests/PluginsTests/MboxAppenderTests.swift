#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("mbox appender")
struct MboxAppenderTests {
    @Test func separatorQuotingAndBlankLineAsPostfixWrites() throws {
        let dir = TempDir()
        let mbox = MboxAppender(path: dir.path + "/Mailbox")
        let m = try Message.literal("Subject: one\r\n\r\nFrom the start\r\n>From already quoted\r\nFromage\r\nlast line")
        try mbox.append(m, prepending: [try HeaderField(name: "Delivered-To", value: "a@x")], sender: "s@example.org",
                        date: Timestamp(seconds: 0, microseconds: 0))
        try mbox.append(try Message.literal("Subject: two\n\nFrom x\n"), sender: "", date: Timestamp(seconds: 0, microseconds: 0))
        let text = String(decoding: try dir.read(dir.path + "/Mailbox"), as: UTF8.self)
        let date = MboxAppender.ctime(0)
        #expect(text == """
            From s@example.org  \(date)
            Delivered-To: a@x
            Subject: one

            >From the start
            >From already quoted
            Fromage
            last line

            From MAILER-DAEMON  \(date)
            Subject: two

            >From x


            """)
        #expect(!Posix.exists(dir.path + "/Mailbox.lock"), "the dotlock is removed")
    }

    @Test(arguments: [MboxAppender.Step.write, .sync])
    func aFailureTruncatesBackToTheOriginalSize(step: MboxAppender.Step) throws {
        let dir = TempDir()
        let mbox = MboxAppender(path: dir.path + "/Mailbox")
        try mbox.append(try Message.literal("Subject: kept\n\nbody\n"), sender: "a@b")
        let before = try dir.read(dir.path + "/Mailbox")
        let lost = try Message.literal("Subject: lost\n\n" + String(repeating: "x\n", count: 50_000))
        do {
            try mbox.append(lost, prepending: [],
                            sender: "a@b", date: .now(), fault: { s in if s == step { throw SystemError("injected", errno: 28) } })
            Issue.record("the append must fail")
        } catch {
            #expect(error.status.isTemporary)
        }
        #expect(try dir.read(dir.path + "/Mailbox") == before)
    }

    @Test func aStaleDotlockIsRemovedAndAFreshOneWaitedFor() throws {
        let dir = TempDir()
        var mbox = MboxAppender(path: dir.path + "/Mailbox")
        mbox.lockTimeout = 1
        let lock = dir.path + "/Mailbox.lock"
        close(open(lock, O_CREAT | O_WRONLY, 0o600))
        #expect(throws: DeliveryStatus.self) { try mbox.append(try Message.literal("S: x\n\nb\n"), sender: "a@b") }
        var times = [timeval(tv_sec: 0, tv_usec: 0), timeval(tv_sec: 0, tv_usec: 0)]
        utimes(lock, &times)   // make it ancient: stale
        try mbox.append(try Message.literal("S: x\n\nb\n"), sender: "a@b")
        #expect(!Posix.exists(lock))
    }

    @Test func concurrentAppendsNeverInterleave() async throws {
        let dir = TempDir()
        let path = dir.path + "/Mailbox"
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    let body = String(repeating: "thread \(t) line\n", count: 2000)
                    for _ in 0..<5 { try? MboxAppender(path: path).append(try! Message.literal("Subject: \(t)\n\n" + body), sender: "a@b") }
                }
            }
        }
        let text = String(decoding: try dir.read(path), as: UTF8.self)
        let messages = text.components(separatedBy: "\n\nFrom a@b ")
        #expect(messages.count == 40)
        for m in messages {
            let subject = m.components(separatedBy: "Subject: ").dropFirst().first?.prefix(1) ?? ""
            let lines = m.split(separator: "\n").filter { $0.hasPrefix("thread ") }
            #expect(lines.count == 2000 && lines.allSatisfy { $0.hasPrefix("thread \(subject) ") }, "a message mixed with another")
        }
    }
}

import Foundation
import Testing

/// `mdad procmail` delivering for real: two deliveries into one mbox at once (mdad with mdad,
/// mdad with procmail itself) both land whole; and a user's ~/.procmailrc through `mdad
/// deliver` with `pipeline = rules`.
@Suite(.serialized)
struct ProcmailDeliveryTests {
    /// Commands that do not read their input (a backquoted `echo`) close the pipe early: as
    /// in mdad's own processes (prepareProcess), that must be EPIPE, not a killed test process.
    init() { signal(SIGPIPE, SIG_IGN) }

    /// A message of about 2 MB whose every body line names it, so a torn write shows.
    static func bigMessage(_ tag: String) -> Data {
        var s = "From: \(tag)@example.org\nSubject: \(tag)\n\n"
        let line = String(repeating: tag, count: 60 / tag.count + 1).prefix(60) + "\n"
        for _ in 0..<35_000 { s += line }
        return Data(s.utf8)
    }

    static func start(_ argv: [String], input: Data, cwd: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.environment = ["PATH": "/usr/bin:/bin", "HOME": cwd]
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let pipe = Pipe()
        p.standardInput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread {
            try? pipe.fileHandleForWriting.write(contentsOf: input)
            try? pipe.fileHandleForWriting.close()
        }.start()
        return p
    }

    @Test(arguments: [false, true])
    func twoDeliveriesIntoOneMboxBothLandWhole(withProcmail: Bool) throws {
        if withProcmail && !FileManager.default.isExecutableFile(atPath: "/usr/bin/procmail") {
            Issue.record("procmail is not installed"); return
        }
        let box = try Sandbox()
        let dir = box.root.path
        let rc = dir + "/rc"
        try "MAILDIR=\(dir)\n:0:\nshared.mbox\n".write(toFile: rc, atomically: true, encoding: .utf8)
        for round in 0..<3 {
            let a = "alpha\(round)", b = "beta\(round)"
            let first = try Self.start([MDAD.binary, "procmail", "-m", "-f", "\(a)@example.org", rc], input: Self.bigMessage(a), cwd: dir)
            let secondArgv = withProcmail ? ["/usr/bin/procmail"] : [MDAD.binary, "procmail"]
            let second = try Self.start(secondArgv + ["-m", "-f", "\(b)@example.org", rc], input: Self.bigMessage(b), cwd: dir)
            first.waitUntilExit()
            second.waitUntilExit()
            #expect(first.terminationStatus == 0 && second.terminationStatus == 0)
        }
        let text = try String(contentsOfFile: dir + "/shared.mbox", encoding: .utf8)
        let entries = text.components(separatedBy: "\nFrom ").count
        #expect(entries == 6, "six messages, one From_ line each")
        for round in 0..<3 {
            for tag in ["alpha\(round)", "beta\(round)"] {
                let original = String(decoding: Self.bigMessage(tag), as: UTF8.self)
                #expect(text.contains(original.split(separator: "\n\n", maxSplits: 1)[1]), "\(tag)'s body is there whole")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/shared.mbox.lock"), "the lockfile is gone")
    }

    @Test func aUsersProcmailrcThroughDeliverWithTheRulesPipeline() throws {
        let box = try Sandbox(mainCF: "pipeline = rules\nrules_engines = procmail\n")
        let home = box.root.appendingPathComponent("pm-home").path
        let user = try TestUser(home: home)
        try """
            MAILDIR=$HOME/Mail
            :0
            * ^Subject:.*\\[dev\\]
            dev/
            :0 c
            * ^From:.*boss
            important
            :0
            * ^Subject:.*junk
            /dev/null
            """.write(toFile: home + "/.procmailrc", atomically: true, encoding: .utf8)
        chown(home + "/.procmailrc", user.uid, user.gid)
        func deliver(_ message: String) throws -> MDAD.Result {
            try box.deliver(["-d", user.name, "-f", "s@example.org"], input: Data(message.utf8))
        }
        let r1 = try deliver("From: dev@example.org\nSubject: [dev] build\n\nbody\n")
        #expect(r1.status == 0, "\(r1.stderr)")
        let r2 = try deliver("From: boss@example.org\nSubject: plan\n\nbody\n")
        #expect(r2.status == 0, "\(r2.stderr)")
        let r3 = try deliver("From: x@example.org\nSubject: junk offer\n\nbody\n")
        #expect(r3.status == 0, "\(r3.stderr)")
        let fm = FileManager.default
        let dev = (try? fm.contentsOfDirectory(atPath: home + "/Mail/dev/new")) ?? []
        #expect(dev.count == 1, "the [dev] message is in ~/Mail/dev/")
        let important = (try? String(contentsOfFile: home + "/Mail/important", encoding: .utf8)) ?? ""
        #expect(important.hasPrefix("From s@example.org ") && important.contains("Subject: plan"))
        let inbox = (try? fm.contentsOfDirectory(atPath: home + "/Maildir/new")) ?? []
        #expect(inbox.count == 1, "only the boss's copy fell through to the mailbox; the junk went to /dev/null")
        if let f = dev.first {
            let attrs = try fm.attributesOfItem(atPath: home + "/Mail/dev/new/" + f)
            #expect((attrs[.ownerAccountID] as? NSNumber)?.uint32Value == user.uid, "written as the user")
        }
    }

    @Test func dashDRunsTheUsersProcmailrcAsTheUser() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("pm-d-home").path
        let user = try TestUser(home: home)
        try "MAILDIR=$HOME/Mail\nDEFAULT=$MAILDIR/inbox/\n:0\n* ^Subject:.*report\nreports/\n"
            .write(toFile: home + "/.procmailrc", atomically: true, encoding: .utf8)
        chown(home + "/.procmailrc", user.uid, user.gid)
        for subject in ["weekly report", "hello"] {
            let r = try MDAD.run(["procmail", "-f", "s@example.org", "-d", user.name],
                                 input: Data("From: a@example.org\nSubject: \(subject)\n\nbody\n".utf8))
            #expect(r.status == 0, "\(r.stderr)")
        }
        let fm = FileManager.default
        let reports = (try? fm.contentsOfDirectory(atPath: home + "/Mail/reports/new")) ?? []
        let inbox = (try? fm.contentsOfDirectory(atPath: home + "/Mail/inbox/new")) ?? []
        #expect(reports.count == 1 && inbox.count == 1)
        if let f = reports.first {
            let attrs = try fm.attributesOfItem(atPath: home + "/Mail/reports/new/" + f)
            #expect((attrs[.ownerAccountID] as? NSNumber)?.uint32Value == user.uid, "written as the user")
        }
        let unknown = try MDAD.run(["procmail", "-d", "no-such-user-mdad"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(unknown.status == 67)
    }
}

import Foundation
import Testing

/// `mdad deliver` as Postfix's `mailbox_command` runs it: the real binary, a real Maildir.
@Suite("mdad deliver, end to end", .serialized)
struct DeliverEndToEndTests {
    static let sender = "alice@example.org"
    static let recipient = "bob@example.test"

    /// The corpus files whose input has no empty line between header and body, and where the
    /// body starts (mdad, like Postfix's cleanup, puts one there).
    static let separatorInserted: [String: String] = [
        "09-no-blank-line.eml": "This line is not a header",
        "10-body-only.eml": "This message has no header at all.",
    ]

    /// What the Maildir file must hold: Return-Path and Delivered-To on top, the message without
    /// its mbox From_ line, LF line endings.
    static func expected(_ name: String, input: Data) -> Data {
        var message = input
        if message.starts(with: Data("From ".utf8)), let nl = message.firstIndex(of: 10) {
            message = message.subdata(in: message.index(after: nl)..<message.endIndex)
        }
        var out = Data("Return-Path: <\(sender)>\nDelivered-To: \(recipient)\n".utf8)
        var body = message.lfNormalized
        if let marker = separatorInserted[name], let r = body.range(of: Data(marker.utf8)) {
            body.insert(10, at: r.lowerBound)
        }
        out.append(body)
        return out
    }

    @Test func corpusIsDeliveredByteForByte() throws {
        let files = Corpus.files
        #expect(files.count >= 20)
        var agree = 0
        var differences: [String] = []
        for name in files {
            let box = try Sandbox()
            let input = try Corpus.data(name)
            let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: input)
            #expect(r.status == 0, "\(name): \(r.stderr)")
            let stored = box.files("new")
            #expect(stored.count == 1, "\(name)")
            #expect(box.files("tmp").isEmpty, "\(name)")
            guard let file = stored.first else { differences.append(name); continue }
            let content = try Data(contentsOf: file)
            let expected = Self.expected(name, input: input)
            if content == expected { agree += 1 } else { differences.append(name) }
            #expect(content == expected, "\(name) differs")
            let fields = file.lastPathComponent.split(separator: ",")
            #expect(fields.count == 3)
            #expect(fields.dropFirst().first == "S=\(content.count)")
            // W= as Dovecot computes it: a CR before each LF not already preceded by CR
            // (16-bare-cr.eml stores CR CR LF as CR LF; Dovecot rejects any other W=).
            let crlf = zip(content, content.dropFirst()).filter { $0.0 == 13 && $0.1 == 10 }.count
            #expect(fields.last == "W=\(content.count + content.filter { $0 == 10 }.count - crlf)")
        }
        print("corpus: \(agree)/\(files.count) messages stored byte for byte; differences: \(differences.isEmpty ? "none" : differences.joined(separator: ", "))")
    }

    @Test func largeMessageIsSpooledToDiskAndStoredWhole() throws {
        let box = try Sandbox(mainCF: "spool_memory_limit = 65536\nmessage_size_limit = 0\n")
        var input = Data("Subject: large\r\n\r\n".utf8)
        let line = Data(String(repeating: "0123456789", count: 7).utf8) + Data("\r\n".utf8)
        for _ in 0..<50_000 { input.append(line) }   // about 3.6 MB
        let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        let stored = try #require(box.files("new").first)
        #expect(try Data(contentsOf: stored) == Data("Return-Path: <\(Self.sender)>\nDelivered-To: \(Self.recipient)\n".utf8) + input.lfNormalized)
    }

    @Test func nullSenderAndFolder() throws {
        let box = try Sandbox()
        let r = try box.deliver(["-f", "", "-a", Self.recipient, "-m", "Junk"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let file = try #require(box.files("new", in: box.maildir.appendingPathComponent(".Junk")).first)
        #expect(String(decoding: try Data(contentsOf: file), as: UTF8.self).hasPrefix("Return-Path: <>\n"))
        #expect(FileManager.default.fileExists(atPath: box.maildir.appendingPathComponent(".Junk/maildirfolder").path))
    }

    @Test func invalidFolderFallsBackToInbox() throws {
        let box = try Sandbox()
        let r = try box.deliver(["-f", Self.sender, "-m", "../../etc"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(box.files("new").count == 1)
        #expect(r.stderr.contains("invalid folder name"))
        let leaked = (try? FileManager.default.contentsOfDirectory(atPath: box.root.path)) ?? []
        #expect(leaked.sorted() == ["etc", "home"])
    }

    @Test func postfixTraceFieldsOnTopAreNotRepeated() throws {
        let box = try Sandbox()
        let input = Data("From alice@example.org Tue Nov 24 10:00:00 2026\nReturn-Path: <alice@example.org>\nX-Original-To: bob@example.test\nDelivered-To: bob@example.test\nSubject: via postfix\n\nb\n".utf8)
        let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        let file = try #require(box.files("new").first)
        #expect(String(decoding: try Data(contentsOf: file), as: UTF8.self)
                == "Return-Path: <alice@example.org>\nX-Original-To: bob@example.test\nDelivered-To: bob@example.test\nSubject: via postfix\n\nb\n")
    }

    // MARK: exit codes, each provoked for real

    @Test func unknownUserIs67() throws {
        let box = try Sandbox()
        let r = try box.deliver(["-d", "mdad-no-such-user", "-f", Self.sender], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 67)
        #expect(r.firstErrorLine.hasPrefix("5.1.1 "))
    }

    @Test func policyRejectionIs77() throws {
        let box = try Sandbox(mainCF: "pipeline = access\naccess_reject_senders = spammer@example.com\n")
        let r = try box.deliver(["-f", "spammer@example.com", "-a", Self.recipient], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 77)
        #expect(r.firstErrorLine.hasPrefix("5.7.1 "))
        #expect(box.files("new").isEmpty)
        #expect(r.stderr.contains("status=bounced"))
    }

    @Test func tooLargeIs65() throws {
        let box = try Sandbox(mainCF: "message_size_limit = 1000\n")
        let r = try box.deliver(["-f", Self.sender], input: Data(repeating: 65, count: 200_000))
        #expect(r.status == 65)
        #expect(r.firstErrorLine.hasPrefix("5.3.4 "))
        #expect(box.files("new").isEmpty)
    }

    @Test func mailLoopIsRefusedWith546() throws {
        let box = try Sandbox()
        let input = Data("Received: from a\nDelivered-To: bob@example.test\nSubject: loop\n\nb\n".utf8)
        let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: input)
        #expect(r.firstErrorLine.hasPrefix("5.4.6 "))
        #expect(r.status == 69)
        #expect(box.files("new").isEmpty)
    }

    @Test func configurationErrorDefersWithFileAndLine() throws {
        let box = try Sandbox(mainCF: "# comment\nmessage_size_limit = lots\n")
        let r = try box.deliver(["-f", Self.sender], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 75)
        #expect(r.firstErrorLine.hasPrefix("4.3.5 "))
        #expect(r.stderr.contains("main.cf, line 3"), "\(r.stderr)")
        #expect(r.stderr.contains("expected a whole number"))
        #expect(!r.stderr.contains("Fatal error"))

        let syntax = try Sandbox(mainCF: "pipeline access\n")
        let r2 = try syntax.deliver([], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r2.status == 75)
        #expect(r2.stderr.contains("main.cf, line 2"))

        let stage = try Sandbox(mainCF: "pipeline = nosuchstage\n")
        let r3 = try stage.deliver([], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r3.status == 75)
        #expect(r3.stderr.contains("unknown stage \"nosuchstage\""))
    }

    @Test func usageErrorDefersRatherThanBounces() throws {
        let box = try Sandbox()
        let r = try box.deliver(["--no-such-flag"], input: Data())
        #expect(r.status == 75)
        #expect(r.firstErrorLine.hasPrefix("4.3.5 "))
    }

    @Test func fileSizeLimitDefersAndLeavesNoFile() throws {
        let box = try Sandbox(mainCF: "spool_memory_limit = 10000000\n")
        let input = Data("Subject: big\n\n".utf8) + Data(repeating: 66, count: 100_000)
        let r = try box.deliver(["-f", Self.sender], input: input, prefix: ["/usr/bin/prlimit", "--fsize=20000", "--"])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.firstErrorLine.hasPrefix("4.2.2 "), "EFBIG is 'mailbox full': \(r.firstErrorLine)")
        #expect(box.files("new").isEmpty)
        #expect(box.files("tmp").isEmpty)
    }

    @Test func maillogFileLines() throws {
        let box = try Sandbox()
        let log = box.root.appendingPathComponent("maillog").path
        let r = try box.deliver(["-f", Self.sender, "-a", "Bob+ext@example.test", "-r", Self.recipient,
                                 "-o", "maillog_file=\(log)"], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 0)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        let prefix = #/^[A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \S+ mdad/deliver\[\d+\]: [0-9A-F]{12}: /#
        #expect(lines.allSatisfy { $0.contains(prefix) })
        #expect(lines[0].hasSuffix("from=<alice@example.org>, size=14, nrcpt=1 (queue active)"))
        #expect(lines[1].contains(#/to=<bob@example.test>, orig_to=<Bob\+ext@example.test>, relay=local, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+, dsn=2.0.0, status=sent \(delivered to maildir\)$/#))
        let id0 = lines[0].split(separator: " ")[5], id1 = lines[1].split(separator: " ")[5]
        #expect(id0 == id1)
    }

    // MARK: as a real user

    @Test func rootDeliversAsTheDestinationUser() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        let r = try box.deliver(["-d", user.name, "-f", Self.sender], input: Data("Subject: x\n\nb\n".utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let new = URL(fileURLWithPath: home).appendingPathComponent("Maildir/new")
        let names = try FileManager.default.contentsOfDirectory(atPath: new.path)
        #expect(names.count == 1)
        let attrs = try FileManager.default.attributesOfItem(atPath: new.appendingPathComponent(names[0]).path)
        #expect((attrs[.ownerAccountID] as? NSNumber)?.uint32Value == user.uid, "the file belongs to the user, not root")
        let content = try String(contentsOf: new.appendingPathComponent(names[0]), encoding: .utf8)
        #expect(content.hasPrefix("Return-Path: <\(Self.sender)>\nDelivered-To: \(user.name)@mx.example.test\n"))
    }

    @Test func runsAsTheRecipientUserWithoutRoot() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: Data("Subject: x\n\nb\n".utf8),
                                prefix: user.prefix, environment: ["USER": user.name, "HOME": home])
        #expect(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: home + "/Maildir/new")
        #expect(names.count == 1)
    }

    @Test func unwritableMaildirDefers() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("locked-home").path
        let user = try TestUser(home: home)
        // The home belongs to root and is not writable by the user: the Maildir cannot be created.
        chown(home, 0, 0)
        let r = try box.deliver(["-f", Self.sender, "-a", Self.recipient], input: Data("Subject: x\n\nb\n".utf8),
                                prefix: user.prefix, environment: ["USER": user.name, "HOME": home])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.firstErrorLine.hasPrefix("4.2.0 "), "\(r.firstErrorLine)")
        #expect(r.stderr.contains("status=deferred"))

        // An existing Maildir whose new/ is not writable: nothing may be left in tmp/.
        let md = home + "/Maildir"
        for sub in ["", "/tmp", "/new", "/cur"] { mkdir(md + sub, 0o755) }
        chown(md, user.uid, user.gid)
        chown(md + "/tmp", user.uid, user.gid)
        let r2 = try box.deliver(["-f", Self.sender], input: Data("Subject: x\n\nb\n".utf8),
                                 prefix: user.prefix, environment: ["USER": user.name, "HOME": home])
        #expect(r2.status == 75, "\(r2.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: md + "/tmp").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: md + "/new").isEmpty)
    }
}

/// `mdad-deliver` is `mdad deliver` as a small program of its own.
@Suite("mdad-deliver")
struct MdadDeliverProgramTests {
    @Test func sameBehaviourAsMdadDeliver() throws {
        let box = try Sandbox()
        let program = URL(fileURLWithPath: MDAD.binary).deletingLastPathComponent().appendingPathComponent("mdad-deliver").path
        let r = try MDAD.run(["-c", box.config.path, "-f", "s@example.org", "-a", "r@example.test"],
                             input: Data("Subject: small program\n\nb\n".utf8), environment: box.environment, program: program)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(box.files("new").count == 1)
        let bad = try MDAD.run(["-c", box.config.path, "-x"], input: Data(), environment: box.environment, program: program)
        #expect(bad.status == 75)
        #expect(bad.firstErrorLine.hasPrefix("4.3.5 "))
    }
}

/// mbox delivery judged by independent readers: Python's mailbox module and bsd-mailx.
@Suite("mdad deliver into mbox")
struct MboxDeliverTests {
    @Test func bsdMailxListsWhatMdadAppended() throws {
        let box = try Sandbox(mainCF: "home_mailbox = Mailbox\n")
        let subjects = ["first one", "From in the body", "third"]
        for (i, s) in subjects.enumerated() {
            let body = i == 1 ? "From the top\nFrom again\n" : "plain\n"
            let r = try box.deliver(["-f", "sender\(i)@example.org"], input: Data("Subject: \(s)\n\n\(body)".utf8))
            #expect(r.status == 0, "\(r.stderr)")
        }
        let path = box.home.appendingPathComponent("Mailbox").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/bsd-mailx")
        p.arguments = ["-N", "-f", path]
        p.environment = ["HOME": box.home.path, "PATH": "/usr/bin:/bin", "TERM": "dumb"]
        let input = Pipe(), out = Pipe()
        p.standardInput = input
        p.standardOutput = out
        p.standardError = out
        try p.run()
        try input.fileHandleForWriting.write(contentsOf: Data("h\np 2\nq\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("3 messages"), "\(text)")
        for (i, s) in subjects.enumerated() {
            // mailx cuts the sender column to 17 characters.
            #expect(text.contains("sender\(i)@example.o") && text.contains(s), "\(text)")
        }
        #expect(text.contains(">From the top\n>From again"), "body lines starting with From are quoted: \(text)")
    }

    @Test func pythonsMailboxModuleReadsWhatMdadAppended() throws {
        let box = try Sandbox(mainCF: "home_mailbox = Mailbox\n")
        let inputs = ["Subject: first\n\nFrom here on\nplain\n", "Subject: second\r\n\r\nbody without newline"]
        for input in inputs {
            let r = try box.deliver(["-f", "s@example.org", "-a", "r@example.test"], input: Data(input.utf8))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("status=sent (delivered to mailbox)"))
        }
        let path = box.home.appendingPathComponent("Mailbox").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import mailbox, json, sys
            box = mailbox.mbox(sys.argv[1], create=False)
            print(json.dumps([{"from": m.get_from(), "subject": m["Subject"], "rp": m["Return-Path"],
                               "body": m.get_payload()} for m in box]))
            """, path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let messages = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: String]])
        #expect(messages.count == 2)
        #expect(messages.map { $0["subject"] } == ["first", "second"])
        #expect(messages.allSatisfy { $0["rp"] == "<s@example.org>" && ($0["from"] ?? "").hasPrefix("s@example.org ") })
        #expect(messages.first?["body"] == ">From here on\nplain\n\n" || messages.first?["body"] == ">From here on\nplain\n",
                "\(String(describing: messages.first?["body"]))")
        #expect(messages.last?["body"]?.hasPrefix("body without newline") == true)
    }
}

/// local(8)'s mailbox checks, as root with a real test user: a hostile symlink, a mailbox
/// owned by someone else and a world-writable mailbox are refused (deferred), untouched.
@Suite("mailbox safety", .serialized)
struct MailboxSafetyTests {
    func deliver(_ box: Sandbox, _ user: TestUser, mainCF: String = "") throws -> MDAD.Result {
        if !mainCF.isEmpty {
            try ("myhostname = mx.example.test\n" + mainCF).write(to: box.config.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        }
        return try box.deliver(["-d", user.name, "-f", "s@example.org"], input: Data("Subject: x\n\nb\n".utf8))
    }

    @Test func aSymlinkedMaildirIsRefused() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("u1").path
        let user = try TestUser(home: home)
        let elsewhere = box.root.appendingPathComponent("elsewhere").path
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        chown(elsewhere, user.uid, user.gid)
        symlink(elsewhere, home + "/Maildir")
        lchown(home + "/Maildir", user.uid, user.gid)
        let r = try deliver(box, user)
        #expect(r.status == 75)
        #expect(r.firstErrorLine.hasPrefix("4.2.0 "), "\(r.firstErrorLine)")
        #expect(r.stderr.contains("symbolic link"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty, "nothing written through the link")
    }

    @Test func aMailboxOwnedBySomeoneElseIsRefused() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("u2").path
        let user = try TestUser(home: home)
        let mbox = home + "/Mailbox"
        _ = FileManager.default.createFile(atPath: mbox, contents: Data(), attributes: [.posixPermissions: 0o666])
        chmod(mbox, 0o660)   // root's file, writable by the group: still not the user's
        chown(mbox, 0, user.gid)
        let r = try deliver(box, user, mainCF: "home_mailbox = Mailbox\n")
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.stderr.contains("belongs to another user") || r.stderr.contains("owned by uid 0"), "\(r.stderr)")
        #expect((try? Data(contentsOf: URL(fileURLWithPath: mbox)))?.isEmpty == true)
    }

    @Test func aWorldWritableMailboxIsRefused() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("u3").path
        let user = try TestUser(home: home)
        let mbox = home + "/Mailbox"
        _ = FileManager.default.createFile(atPath: mbox, contents: Data())
        chown(mbox, user.uid, user.gid)
        chmod(mbox, 0o666)
        let r = try deliver(box, user, mainCF: "home_mailbox = Mailbox\n")
        #expect(r.status == 75)
        #expect(r.stderr.contains("writable by everyone"), "\(r.stderr)")
        chmod(mbox, 0o600)
        let ok = try deliver(box, user, mainCF: "home_mailbox = Mailbox\n")
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: mbox)), as: UTF8.self).hasPrefix("From s@example.org "))
    }

    @Test func aMissingSpoolMailboxIsCreatedForTheUserAsPostfixLeavesIt() throws {
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("u4").path
        let user = try TestUser(home: home)
        // A spool like Debian's /var/mail: root:mail, setgid, not writable by users.
        let spool = box.root.appendingPathComponent("spool").path
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let mailGroup = getgrnam("mail").map { $0.pointee.gr_gid } ?? 8
        chown(spool, 0, mailGroup)
        chmod(spool, 0o2775)
        let cf = "home_mailbox =\nmail_spool_directory = \(spool)\n"
        for _ in 0..<2 {
            let r = try deliver(box, user, mainCF: cf)
            #expect(r.status == 0, "\(r.stderr)")
        }
        var st = stat()
        #expect(lstat(spool + "/" + user.name, &st) == 0)
        #expect(st.st_uid == user.uid && st.st_gid == mailGroup && st.st_mode & 0o7777 == 0o600,
                "owner \(st.st_uid):\(st.st_gid) mode \(String(st.st_mode & 0o7777, radix: 8))")
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: spool + "/" + user.name)), as: UTF8.self)
        #expect(text.components(separatedBy: "\nFrom s@example.org ").count == 2 && text.hasPrefix("From s@example.org "))
    }
}

import Foundation
import Testing

/// Sieve through the real binary: `pipeline = rules` with the user's `~/.dovecot.sieve`,
/// delivered by `mdad deliver`; replies leave through `sendmail_path`; `mdad sieve-test` and
/// `mdad sievec` as a user runs them.
@Suite("Sieve, end to end", .serialized)
struct SieveEndToEndTests {
    /// A sandbox with a test user whose home holds the script, and a sendmail that records
    /// what it is given.
    final class Setup {
        let box: Sandbox
        let user: TestUser
        let outbox: URL
        var maildir: URL { URL(fileURLWithPath: user.home).appendingPathComponent("Maildir") }

        init(script: String, extra: String = "") throws {
            let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-sieve-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            chmod(root.path, 0o755)
            user = try TestUser(home: root.appendingPathComponent("u").path)
            outbox = root.appendingPathComponent("outbox")
            let sendmail = root.appendingPathComponent("sendmail")
            try "#!/bin/sh\n{ echo \"ARGS: $*\"; cat; echo '--END--'; } >> \(outbox.path)\n".write(to: sendmail, atomically: true, encoding: .utf8)
            chmod(sendmail.path, 0o755)
            _ = FileManager.default.createFile(atPath: outbox.path, contents: nil)
            chmod(outbox.path, 0o666)
            box = try Sandbox(mainCF: "pipeline = rules\nrules_engines = sieve\nsendmail_path = \(sendmail.path)\n" + extra)
            let scriptPath = user.home + "/.dovecot.sieve"
            try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
            chown(scriptPath, user.uid, user.gid)
        }

        deinit { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: user.home).deletingLastPathComponent().path) }

        func deliver(_ message: String, from sender: String = "alice@example.org") throws -> MDAD.Result {
            try box.deliver(["-d", user.name, "-f", sender, "-a", "\(user.name)@example.test"], input: Data(message.utf8))
        }

        func files(_ folder: String, _ sub: String = "new") -> [URL] {
            let dir = (folder.isEmpty ? maildir : maildir.appendingPathComponent("." + folder)).appendingPathComponent(sub)
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0) }
        }

        var sent: String { (try? String(contentsOf: outbox, encoding: .utf8)) ?? "" }
    }

    static let message = "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: [devel] release plans\nMessage-ID: <r1@example.org>\n\nHello.\n"

    @Test func dovecotSieveFilesIntoAFolder() throws {
        let s = try Setup(script: """
            require ["fileinto", "variables"];
            if header :matches "subject" "[*] *" { fileinto "Lists.${1}"; stop; }
            """)
        let r = try s.deliver(Self.message)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files("Lists.devel").count == 1)
        #expect(s.files("").isEmpty)
        // A message the rule does not match takes the implicit keep.
        let r2 = try s.deliver("From: alice@example.org\nSubject: hello\n\nx\n")
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(s.files("").count == 1)
    }

    @Test func globalScriptsRunAroundTheUsersScript() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-sieve-global-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = dir.appendingPathComponent("before.sieve"), after = dir.appendingPathComponent("after.sieve")
        try "require \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }\n".write(to: before, atomically: true, encoding: .utf8)
        try "require \"fileinto\";\nif header :contains \"subject\" \"late\" { fileinto \"Late\"; }\n".write(to: after, atomically: true, encoding: .utf8)
        let s = try Setup(script: "require \"fileinto\";\nif header :contains \"subject\" \"devel\" { fileinto \"Lists\"; }\n",
                          extra: "sieve_before = \(before.path)\nsieve_after = \(after.path)\n")
        #expect(try s.deliver("From: a@example.org\nSubject: devel spam\n\nx\n").status == 0)
        #expect(s.files("Junk").count == 1)
        #expect(s.files("Lists").isEmpty, "the user's script does not run once the before script filed the message")
        #expect(try s.deliver("From: a@example.org\nSubject: devel news\n\nx\n").status == 0)
        #expect(s.files("Lists").count == 1)
        #expect(try s.deliver("From: a@example.org\nSubject: late news\n\nx\n").status == 0)
        #expect(s.files("Late").count == 1)
        #expect(s.files("").isEmpty)
    }

    @Test func flagsAndEditedHeaderReachTheStoredCopy() throws {
        let s = try Setup(script: """
            require ["fileinto", "imap4flags", "editheader"];
            addheader "X-Filtered" "by sieve";
            deleteheader "x-junk";
            fileinto :flags "\\\\Seen" "Work";
            """)
        let r = try s.deliver("X-Junk: yes\n" + Self.message)
        #expect(r.status == 0, "\(r.stderr)")
        let stored = s.files("Work", "cur") + s.files("Work", "new")
        let file = try #require(stored.first)
        #expect(file.lastPathComponent.hasSuffix(":2,S"), "\(file.lastPathComponent)")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("X-Filtered: by sieve\n"))
        #expect(!text.contains("X-Junk"))
    }

    @Test func vacationAnswersOncePerPeriodAndNeverLists() throws {
        let s = try Setup(script: """
            require ["vacation"];
            vacation :days 7 :subject "Away" :addresses ["bob@example.test"] "I am away until Monday.";
            """)
        #expect(try s.deliver(Self.message).status == 0)
        #expect(s.files("").count == 1, "vacation keeps the message")
        let first = s.sent
        #expect(first.contains("ARGS:"), "no reply was sent: \(first)")
        #expect(first.contains("To: <alice@example.org>"))
        #expect(first.contains("Auto-Submitted: auto-replied"))
        #expect(first.contains("In-Reply-To: <r1@example.org>"))
        #expect(first.contains("I am away until Monday."))
        // The same sender again within the period: no second reply.
        #expect(try s.deliver(Self.message).status == 0)
        #expect(s.sent == first)
        // A list message and the null sender get none.
        #expect(try s.deliver("List-Id: <devel.example.org>\n" + Self.message, from: "carol@example.org").status == 0)
        #expect(try s.deliver(Self.message, from: "").status == 0)
        #expect(s.sent == first)
        #expect(s.files("").count == 4)
    }

    @Test func redirectAndRejectUseTheirActions() throws {
        let s = try Setup(script: """
            require ["reject"];
            if header :contains "subject" "release" { redirect "team@example.net"; }
            elsif header :contains "subject" "spam" { reject "No spam here."; }
            """)
        #expect(try s.deliver(Self.message).status == 0)
        #expect(s.sent.contains("team@example.net"))
        #expect(s.files("").isEmpty)
        let r = try s.deliver("From: x@example.org\nSubject: spam spam\n\nx\n")
        #expect(r.status != 0)
        #expect(r.stderr.contains("No spam here."), "\(r.stderr)")
    }

    @Test func aBrokenScriptKeepsTheMessage() throws {
        let s = try Setup(script: "require [\"fileinto\"];\nfileinto \"Work\"\nkeep;\n")
        let r = try s.deliver(Self.message)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(s.files("").count == 1)
    }

    @Test func sieveTestListsActionsAsPigeonholeDoes() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-sievetest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("test.sieve"), mail = dir.appendingPathComponent("m.eml")
        try "require [\"fileinto\", \"copy\"];\nfileinto :copy \"Archive\";\nredirect \"x@example.net\";\n".write(to: script, atomically: true, encoding: .utf8)
        try Self.message.write(to: mail, atomically: true, encoding: .utf8)
        let r = try MDAD.run(["sieve-test", "-f", "alice@example.org", "-r", "bob@example.test", script.path, mail.path], input: Data())
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == """

            Performed actions:

             * store message in folder: Archive
                    + preserve implicit keep
             * redirect message to: <x@example.net>

            Implicit keep:

              (none)


            """)
        // A dovecot.conf given with -c (as Pigeonhole's tool takes it) is no mdad directory:
        // the defaults apply, with a warning.
        let conf = dir.appendingPathComponent("dovecot.conf")
        try "mail_location = maildir:~/Maildir\n".write(to: conf, atomically: true, encoding: .utf8)
        let withConf = try MDAD.run(["sieve-test", "-C", "-c", conf.path, script.path, mail.path], input: Data())
        #expect(withConf.status == 0, "\(withConf.stderr)")
        #expect(withConf.stdout == r.stdout)
        #expect(withConf.stderr.contains("warning: -c \(conf.path) is a file"))
        let bad = dir.appendingPathComponent("bad.sieve")
        try "require \"fileinto\";\nif true {\n  frobnicate;\n}\n".write(to: bad, atomically: true, encoding: .utf8)
        let c = try MDAD.run(["sievec", bad.path], input: Data())
        #expect(c.status != 0)
        #expect(c.firstErrorLine == "bad: line 3, column 3: error: unknown command 'frobnicate' (only reported once at first occurrence).")
        let ok = try MDAD.run(["sievec", script.path], input: Data())
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}

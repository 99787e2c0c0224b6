import Foundation
import Testing

/// `mdad serve` running as root with `rules_engines = procmail`: the commands a user's
/// .procmailrc starts (backquotes, `?` conditions, `f` filters, `VAR=|` captures, `|` pipes)
/// run as that user, with the user's groups, home and a clean environment; what they write
/// belongs to the user.
@Suite("procmail commands under mdad serve as root", .serialized)
struct ProcmailRootTests {
    static func owner(_ path: String) -> UInt32? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_uid : nil
    }

    @Test(arguments: ["fsuid", "process"])
    func everyKindOfCommandRunsAsTheUser(mode: String) throws {
        guard getuid() == 0 else { Issue.record("needs root"); return }
        let server = try LMTPInstance(extraMainCF: """
            pipeline = rules
            rules_engines = procmail
            lmtp_privilege_mode = \(mode)
            """)
        defer { server.cleanup() }
        let home = server.root.appendingPathComponent("home-pm").path
        let user = try TestUser(home: home)
        let fm = FileManager.default
        try fm.createDirectory(atPath: home + "/Mail", withIntermediateDirectories: true)
        chown(home + "/Mail", user.uid, user.gid)
        try """
            MAILDIR=$HOME/Mail
            WHO=`id -u`
            :0
            CAPTURED=| id -un
            :0 c
            * ? test "$WHO" = "\(user.uid)"
            backquote-$WHO
            :0 c
            captured-$CAPTURED
            :0 fw
            | sed -e "s|^Subject: |Subject: [by $(id -u) in $(pwd) env $(env | wc -l)] |"
            :0 c
            | (id -u; id -g; pwd; echo "$HOME"; id -G) > \(home)/pipe-ran
            """.write(toFile: home + "/.procmailrc", atomically: true, encoding: .utf8)
        chown(home + "/.procmailrc", user.uid, user.gid)

        let out = try server.client("raw-rcpts", stdin: "\(user.name)@mx.example.test\n")
        let replies = out["replies"] as? [String] ?? []
        #expect(replies.count == 1 && replies.allSatisfy { $0.hasPrefix("250 2.0.0") }, "\(replies)")
        let log = (try? String(contentsOf: server.maillog, encoding: .utf8)) ?? ""

        // The backquote ran as the user (its uid names the folder), and so did the `?` condition.
        let backquote = home + "/Mail/backquote-\(user.uid)"
        #expect(fm.fileExists(atPath: backquote), "\((try? fm.contentsOfDirectory(atPath: home + "/Mail")) ?? []) \(log)")
        #expect(Self.owner(backquote) == user.uid)
        // The capture got the user's name from `id -un`.
        let captured = home + "/Mail/captured-\(user.name)"
        #expect(fm.fileExists(atPath: captured))
        #expect(Self.owner(captured) == user.uid)
        // The filter ran as the user, in MAILDIR, with procmail's small environment.
        let inbox = (try? fm.contentsOfDirectory(atPath: home + "/Maildir/new")) ?? []
        #expect(inbox.count == 1)
        if let f = inbox.first {
            let text = try String(contentsOfFile: home + "/Maildir/new/" + f, encoding: .utf8)
            let subject = text.split(separator: "\n").first { $0.hasPrefix("Subject: ") } ?? ""
            #expect(subject.hasPrefix("Subject: [by \(user.uid) in \(home)/Mail env "), "\(subject)")
            if let n = subject.split(separator: " ").dropFirst(7).first.flatMap({ Int($0.trimmingCharacters(in: CharacterSet(charactersIn: "]"))) }) {
                #expect(n < 40, "a clean environment: \(n) variables")
            }
            #expect(Self.owner(home + "/Maildir/new/" + f) == user.uid)
        }
        // The pipe ran as the user: its uid and primary group, its home.
        let ran = (try? String(contentsOfFile: home + "/pipe-ran", encoding: .utf8)) ?? ""
        let lines = ran.split(separator: "\n").map(String.init)
        #expect(lines.count == 5 && lines[0] == "\(user.uid)" && lines[1] == "\(user.gid)" && lines[3] == home, "\(lines)")
        // Its groups are the user's from the group database (initgroups), none of root's.
        let groups = Process()
        groups.executableURL = URL(fileURLWithPath: "/usr/bin/id")
        groups.arguments = ["-G", user.name]
        let groupsOut = Pipe()
        groups.standardOutput = groupsOut
        try groups.run()
        groups.waitUntilExit()
        let expected = String(decoding: groupsOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(lines.count == 5 && lines[4] == expected, "\(lines) vs \(expected)")
        #expect(Self.owner(home + "/pipe-ran") == user.uid)
    }

    @Test func aUserWithoutAPasswdEntryIsDeferredAndLogged() throws {
        guard getuid() == 0 else { Issue.record("needs root"); return }
        // A virtual mailbox has no passwd entry; an rc named for it must not run its commands as root.
        let vmail = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-pmv-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: vmail, withIntermediateDirectories: true)
        chown(vmail.path, 5001, 5001)
        defer { try? FileManager.default.removeItem(at: vmail) }
        let rc = vmail.appendingPathComponent("rc").path
        try "X=`id -u > \(vmail.path)/ran`\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let server = try LMTPInstance(extraMainCF: """
            pipeline = rules
            rules_engines = procmail
            procmail_user_rc = \(rc)
            virtual_mailbox_domains = other.example
            virtual_mailbox_maps = inline:{ dave@other.example=\(vmail.path)/dave/ }
            virtual_mailbox_base =
            virtual_uid_maps = static:5001
            virtual_gid_maps = static:5001
            """)
        defer { server.cleanup() }
        let out = try server.client("raw-rcpts", stdin: "dave@other.example\n")
        let replies = out["replies"] as? [String] ?? []
        #expect(replies.count == 1 && replies.allSatisfy { $0.hasPrefix("4") }, "\(replies)")
        #expect(!FileManager.default.fileExists(atPath: vmail.path + "/ran"), "no command ran")
        let log = (try? String(contentsOf: server.maillog, encoding: .utf8)) ?? ""
        #expect(log.contains("no passwd entry"), "\(log)")
    }
}

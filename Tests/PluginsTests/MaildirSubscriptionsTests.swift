#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("Maildir subscriptions")
struct MaildirSubscriptionsTests {
    /// What Dovecot 2.3 writes (checked with Debian 12's dovecot-imapd: SUBSCRIBE to these
    /// names and read the file).
    @Test(arguments: [
        ("Plain", "Plain"),
        ("Lists/work", "Lists\twork"),
        ("Lists.work", "Lists\twork"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Archiv/Entwürfe/2024", "Archiv\tEntw&APw-rfe\t2024"),
    ])
    func version2Entry(folder: String, line: String) throws {
        let levels = try #require(try MaildirFolderName.levels(for: folder))
        #expect(MaildirSubscriptions.entry(levels: levels) == line)
    }

    @Test(arguments: [("a", "a"), ("a\tb", "a\u{1}tb"), ("\u{1}", "\u{1}1"), ("x\r\ny", "x\u{1}r\u{1}ny")])
    func tabEscaping(level: String, escaped: String) {
        #expect(MaildirSubscriptions.tabEscaped(level) == escaped)
        #expect(MaildirSubscriptions.tabUnescaped(escaped) == level)
    }

    @Test(arguments: [
        // (file before, nil = missing; levels; file after, nil = unchanged)
        (String?.none, ["Lists", "work"], Optional("V\t2\n\nLists\twork\n")),
        ("", ["Junk"], "V\t2\n\nJunk\n"),
        ("V\t2\n\nINBOX\n", ["Lists", "work"], "V\t2\n\nINBOX\nLists\twork\n"),
        ("V\t2\n\nLists\twork\n", ["Lists", "work"], nil),
        ("V\t2\n\nLists\n", ["Lists", "work"], "V\t2\n\nLists\nLists\twork\n"),
        // The old format: names with the namespace separator, no header; kept as it is.
        ("INBOX\nLists.work\n", ["Lists", "work"], nil),
        ("INBOX\n", ["Lists", "work"], "INBOX\nLists.work\n"),
        ("INBOX", ["Junk"], "INBOX\nJunk\n"),
    ])
    func adding(before: String?, levels: [String], after: String?) {
        let result = MaildirSubscriptions.adding(levels: levels, to: before.map { Array($0.utf8) })
        #expect(result.map { String(decoding: $0, as: UTF8.self) } == after)
    }

    @Test func aNewFolderIsSubscribedOnceAndGetsItsMarkerLast() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        _ = try md.deliver(m, folder: "Lists/work")
        _ = try md.deliver(m, folder: "Lists.work")
        _ = try md.deliver(m, folder: "Entwürfe")
        _ = try md.deliver(m)
        #expect(try dir.read(dir.path + "/M/subscriptions") == Array("V\t2\n\nLists\twork\nEntw&APw-rfe\n".utf8))
        #expect(try MaildirSubscriptions.list(root: dir.path + "/M") == [["Lists", "work"], ["Entw&APw-rfe"]])
        #expect(dir.list(dir.path + "/M").contains("maildirfolder") == false, "INBOX is no folder")
        #expect(!dir.list(dir.path + "/M").contains { $0.hasSuffix(".lock") })
    }

    /// A folder the user unsubscribed (in IMAP) stays unsubscribed; a folder whose set-up was
    /// interrupted before the marker is finished by the next delivery.
    @Test func existingFoldersAreLeftAloneButInterruptedOnesAreFinished() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        _ = try md.deliver(m, folder: "Old")
        unlink(dir.path + "/M/subscriptions")
        _ = try md.deliver(m, folder: "Old")
        #expect(!Posix.exists(dir.path + "/M/subscriptions"))

        for sub in ["", "/cur", "/new", "/tmp"] { try Posix.makeDirectory(dir.path + "/M/.Half" + sub, mode: 0o700) }
        _ = try md.deliver(m, folder: "Half")
        #expect(try MaildirSubscriptions.list(root: dir.path + "/M") == [["Half"]])
        #expect(Posix.exists(dir.path + "/M/.Half/maildirfolder"))
    }

    @Test func aHeldSubscriptionsLockDefersTheDeliveryAndLeavesNoMessage() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        _ = try md.deliver(m)
        let lock = dir.path + "/M/subscriptions.lock"
        close(open(lock, O_WRONLY | O_CREAT, 0o600))
        #expect {
            try MaildirSubscriptions.subscribe(levels: ["X"], root: dir.path + "/M", lockTimeout: 0.2)
        } throws: { ($0 as? SystemError)?.errno == EAGAIN }
        #expect(Posix.exists(lock))
        unlink(lock)
        #expect(try MaildirSubscriptions.subscribe(levels: ["X"], root: dir.path + "/M"))
        #expect(try !MaildirSubscriptions.subscribe(levels: ["X"], root: dir.path + "/M"))
    }

    /// Many deliveries creating different folders at once: every folder is listed exactly once.
    @Test func concurrentFolderCreationLosesNoSubscription() async throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<24 {
                group.addTask { _ = try md.deliver(m, folder: "F\(i % 12)/sub") }
            }
            try await group.waitForAll()
        }
        let listed = try MaildirSubscriptions.list(root: dir.path + "/M")
        #expect(listed.count == 12)
        #expect(Set(listed) == Set((0..<12).map { ["F\($0)", "sub"] }))
    }
}

/// File and directory modes follow the process umask. All test targets share one process on
/// Linux and the umask is process-wide, so this test reads the umask instead of changing it;
/// the end-to-end tests run `mdad deliver` under other umasks in processes of their own.
@Suite("Maildir modes")
struct MaildirModesTests {
    /// The process umask, from /proc/self/status (`Umask:\t0022`), without changing it.
    static func currentUmask() throws -> mode_t {
        let status = String(decoding: try Posix.readFile("/proc/self/status"), as: UTF8.self)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        return try #require(mode_t(line.dropFirst(6).trimmed(of: " \t"), radix: 8))
    }

    @Test func modesAre0666And0777LessTheUmask() throws {
        let mask = try Self.currentUmask()
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        let plain = try md.deliver(m)
        let flagged = try md.deliver(m, folder: "Lists/work", flags: ["\\Seen", "Work"])
        let files = [plain.path, flagged.path, dir.path + "/M/subscriptions", dir.path + "/M/.Lists.work/maildirfolder",
                     dir.path + "/M/.Lists.work/dovecot-keywords"]
        let dirs = ["", "/cur", "/new", "/tmp", "/.Lists.work", "/.Lists.work/cur", "/.Lists.work/new", "/.Lists.work/tmp"]
            .map { dir.path + "/M" + $0 }
        for path in files + dirs {
            var st = stat()
            #expect(stat(path, &st) == 0, "\(path)")
            let expected = (files.contains(path) ? 0o666 : 0o777) & ~mask
            #expect(st.st_mode & 0o7777 == expected, "\(path): \(String(st.st_mode & 0o7777, radix: 8))")
        }
    }
}

extension Substring {
    func trimmed(of set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

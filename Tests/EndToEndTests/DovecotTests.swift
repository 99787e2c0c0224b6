import Foundation
import Testing
import Pipeline
import Plugins

/// Dovecot (Debian's dovecot-imapd) serves the Maildir mdad wrote, and Python's imaplib fetches
/// everything back: every message identical to what was stored, with its flags, keywords and
/// folders, and the folders mdad created subscribed.
@Suite("Dovecot reads what mdad stored", .serialized, .dovecot)
struct DovecotTests {
    static let sender = DeliverEndToEndTests.sender
    static let recipient = DeliverEndToEndTests.recipient
    static let hostName = "mx.example.test"

    /// One stored message and what IMAP must show for it.
    struct Stored {
        var label: String
        /// The mailbox as IMAP names it.
        var mailbox: String
        /// The file's bytes (LF line endings).
        var content: Data
        var flags: Set<String>
    }

    /// An account: a test user with a home, allowed to log in to Dovecot.
    struct Account {
        let user: TestUser
        let home: String
        let password: String
        var maildir: String { home + "/Maildir" }
        var environment: [String: String] { ["USER": user.name, "HOME": home] }

        init(_ dovecot: DovecotInstance) throws {
            home = try dovecot.makeHome()
            user = try TestUser(home: home)
            password = "pw-\(UUID().uuidString.prefix(12))"
            try dovecot.allow(user, password: password)
        }

        /// Files in a Maildir subdirectory (`new`, `.Lists.work/cur`, …).
        func files(_ sub: String) -> Set<String> {
            Set((try? FileManager.default.contentsOfDirectory(atPath: maildir + "/" + sub)) ?? [])
        }

        /// Gives everything under the Maildir to the user (deliveries through the library ran
        /// as root, in this process).
        func chownMaildir() throws {
            let r = try DovecotInstance.run("/bin/chown", ["-R", "\(user.uid):\(user.gid)", maildir])
            guard r.status == 0 else { throw SkipReason("chown failed: \(r.output)") }
        }
    }

    /// `mdad deliver` as the user, as Postfix's `mailbox_command` runs it; returns the stored file.
    static func deliver(_ input: Data, folder: String?, account: Account, box: Sandbox) throws -> Data {
        let sub = (try folder.flatMap { try MaildirFolderName.directory(for: $0) }).map { $0 + "/new" } ?? "new"
        let before = account.files(sub)
        var args = ["-f", sender, "-a", recipient]
        if let folder { args += ["-m", folder] }
        let r = try box.deliver(args, input: input, prefix: account.user.prefix, environment: account.environment)
        guard r.status == 0 else { throw SkipReason("mdad deliver exited \(r.status): \(r.stderr)") }
        let added = account.files(sub).subtracting(before)
        guard added.count == 1, let name = added.first else {
            throw SkipReason("expected one new file in \(sub), found \(added.sorted())")
        }
        return try Data(contentsOf: URL(fileURLWithPath: account.maildir + "/" + sub + "/" + name))
    }

    @Test func everyMessageComesBackIdenticalWithItsFlagsAndFolders() throws {
        let dovecot = try #require(DovecotInstance.current)
        let account = try Account(dovecot)
        let box = try Sandbox()
        var stored: [Stored] = []

        // 1. The real binary: the whole corpus into INBOX, and some into folders named the
        //    Sieve way, the Maildir++ way and in non-ASCII.
        for name in Corpus.files {
            let input = try Corpus.data(name)
            let content = try Self.deliver(input, folder: nil, account: account, box: box)
            #expect(content == DeliverEndToEndTests.expected(name, input: input), "\(name) as stored")
            stored.append(Stored(label: name, mailbox: "INBOX", content: content, flags: []))
        }
        let folderCases: [(file: String, folder: String, mailbox: String)] = [
            ("01-simple-lf.eml", "Lists/work", "Lists.work"),
            ("03-folded.eml", "Lists.work", "Lists.work"),
            ("05-8bit.eml", "Entwürfe", "Entw&APw-rfe"),
            ("13-multipart.eml", "Archiv/2024/台北", "Archiv.2024.&U,BTFw-"),
        ]
        for c in folderCases {
            let content = try Self.deliver(try Corpus.data(c.file), folder: c.folder, account: account, box: box)
            stored.append(Stored(label: "\(c.file) -m \(c.folder)", mailbox: c.mailbox, content: content, flags: []))
        }

        // 2. The library: flags and keywords (no command-line flag sets them yet).
        let maildir = Maildir(path: account.maildir, hostName: Self.hostName)
        let flagCases: [(folder: String?, mailbox: String, flags: [String])] = [
            (nil, "INBOX", ["\\Seen"]),
            (nil, "INBOX", ["\\Flagged", "\\Answered", "$Label1"]),
            (nil, "INBOX", ["Work", "$Junk", "\\Draft"]),
            (nil, "INBOX", ["\\Deleted", "\\Seen", "Work"]),
            (nil, "INBOX", ["$label1"]),                         // the keyword as first stored: $Label1
            ("Lists/work", "Lists.work", ["\\Seen", "Project-X"]),
            ("Entwürfe", "Entw&APw-rfe", ["\\Draft", "$Label1"]),
            ("Archiv/2024", "Archiv.2024", ["\\Seen", "\\Flagged", "NonJunk", "$Forwarded"]),
        ]
        let canonical = ["$label1": "$Label1"]
        for (i, c) in flagCases.enumerated() {
            let text = "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: flags \(i) Grüße\n" +
                "Message-ID: <flags-\(i)@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n" +
                "Content-Transfer-Encoding: 8bit\n\nbody \(i): \(c.flags.joined(separator: " ")) – ünïcödé\n"
            let d = try maildir.deliver(try Message.parse(Spool(bytes: Array(text.utf8))), folder: c.folder, flags: c.flags)
            #expect(d.droppedKeywords.isEmpty)
            let content = try Data(contentsOf: URL(fileURLWithPath: d.path))
            #expect(content == Data(text.utf8), "flags \(i) as stored")
            stored.append(Stored(label: "flags \(i) \(c.flags)", mailbox: c.mailbox, content: content,
                                 flags: Set(c.flags.map { canonical[$0] ?? $0 })))
        }
        try account.chownMaildir()

        // 3. Everything back through IMAP.
        let imap = try dovecot.fetch(user: account.user.name, password: account.password)
        var messageDifferences: [String] = []
        var agree = 0
        var remaining = imap.mailboxes
        var knownDifferences: [String] = []
        for s in stored {
            var candidates = remaining[s.mailbox] ?? []
            // IMAP serves CRLF; the file has LF (and CRLF where the message had CR CR LF).
            let want = s.content.lfNormalized
            var index = candidates.firstIndex { $0.bytes.lfNormalized == want }
            if index == nil, want.contains(0) {
                // IMAP cannot carry NUL (RFC 3501: CHAR8 = %x01-ff), and Dovecot sends 0x80 in its
                // place: identical but for that, which mdad cannot change.
                let substituted = Data(want.map { $0 == 0 ? 0x80 : $0 })
                index = candidates.firstIndex { $0.bytes.lfNormalized == substituted }
                if index != nil {
                    knownDifferences.append("\(s.label) in \(s.mailbox): \(want.filter { $0 == 0 }.count) NUL byte(s) " +
                                            "served as 0x80 (IMAP has no NUL; Dovecot substitutes it)")
                }
            }
            guard let index else {
                // Name the closest message and where it differs, so the report says what changed.
                let scored = candidates.map { (Self.firstDifference($0.bytes.lfNormalized, want), $0) }
                if let (at, closest) = scored.max(by: { $0.0 < $1.0 }) {
                    let got = closest.bytes.lfNormalized
                    messageDifferences.append("\(s.label) in \(s.mailbox): served bytes differ from byte \(at) of " +
                        "\(want.count): stored \(Self.hex(want, from: at)), served \(Self.hex(got, from: at))")
                    remaining[s.mailbox]?.removeAll { $0.uid == closest.uid }
                } else {
                    messageDifferences.append("\(s.label): missing from \(s.mailbox)")
                }
                continue
            }
            let got = Set(candidates[index].flags).subtracting(["\\Recent"])
            candidates.remove(at: index)
            remaining[s.mailbox] = candidates
            if got != s.flags {
                messageDifferences.append("\(s.label) in \(s.mailbox): flags \(got.sorted()) instead of \(s.flags.sorted())")
                continue
            }
            agree += 1
        }
        for (mailbox, left) in remaining where !left.isEmpty {
            messageDifferences.append("\(mailbox): \(left.count) message(s) mdad did not store")
        }

        // 4. Folders: listed with the right hierarchy, and subscribed (LSUB and LIST (SUBSCRIBED)).
        var differences: [String] = []
        let created = ["Lists.work", "Entw&APw-rfe", "Archiv.2024.&U,BTFw-", "Archiv.2024"]
        let listed = Set(imap.list.map(\.name))
        for name in created + ["INBOX"] where !listed.contains(name) { differences.append("LIST lacks \(name)") }
        for box in imap.list where box.delimiter != "." { differences.append("LIST: \(box.name) has delimiter \(box.delimiter ?? "NIL")") }
        let lsub = Set(imap.lsub.map(\.name))
        for name in created where !lsub.contains(name) { differences.append("LSUB lacks \(name)") }
        for name in created where !imap.subscribed.contains(name) { differences.append("LIST (SUBSCRIBED) lacks \(name)") }
        if listed.contains("Lists"), let parent = imap.list.first(where: { $0.name == "Lists" }),
           !parent.flags.contains("\\Noselect") {
            differences.append("Lists (only a hierarchy level) is selectable: \(parent.flags)")
        }
        let folderChecks = created.count * 3 + 2
        print("Dovecot agreement: \(agree)/\(stored.count) messages identical with their flags and folder " +
              "(\(agree - knownDifferences.count) byte for byte, \(knownDifferences.count) but for IMAP's NUL rule); " +
              "\(folderChecks - min(differences.count, folderChecks))/\(folderChecks) folder checks")
        for d in knownDifferences { print("  known difference: \(d)") }
        for d in messageDifferences + differences { print("  difference: \(d)") }
        #expect(messageDifferences.isEmpty, "\(messageDifferences.joined(separator: "\n"))")
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
        #expect(!dovecot.logText.contains("Error:"), "Dovecot logged errors:\n\(dovecot.logText)")
    }

    /// Dovecot assigns keyword letters first (an IMAP APPEND with keywords); mdad then reads
    /// its `dovecot-keywords`, reuses those letters and adds new keywords after them.
    @Test func keywordsDovecotAssignedFirstAreReused() throws {
        let dovecot = try #require(DovecotInstance.current)
        let account = try Account(dovecot)
        let box = try Sandbox()
        _ = try Self.deliver(Data("Subject: first\n\nbody\n".utf8), folder: nil, account: account, box: box)
        let appended = Data("Subject: appended\r\n\r\nby IMAP\r\n".utf8)
        _ = try dovecot.fetch(user: account.user.name, password: account.password,
                              append: ("INBOX", "(\\Seen $FromDovecot Shared)", appended))
        let table = try String(contentsOfFile: account.maildir + "/dovecot-keywords", encoding: .utf8)
        #expect(table == "0 $FromDovecot\n1 Shared\n", "Dovecot's own file")

        let maildir = Maildir(path: account.maildir, hostName: Self.hostName)
        let text = "Subject: keywords\n\nbody\n"
        let d = try maildir.deliver(try Message.parse(Spool(bytes: Array(text.utf8))), flags: ["shared", "Fresh", "\\Flagged"])
        #expect(d.path.hasSuffix(":2,Fbc"))
        #expect(try String(contentsOfFile: account.maildir + "/dovecot-keywords", encoding: .utf8)
                == "0 $FromDovecot\n1 Shared\n2 Fresh\n")
        try account.chownMaildir()

        let imap = try dovecot.fetch(user: account.user.name, password: account.password)
        let inbox = imap.mailboxes["INBOX"] ?? []
        let byBody = Dictionary(inbox.map { ($0.bytes.lfNormalized, Set($0.flags).subtracting(["\\Recent"])) }) { a, _ in a }
        #expect(inbox.count == 3)
        #expect(byBody[appended.lfNormalized] == ["\\Seen", "$FromDovecot", "Shared"])
        #expect(byBody[Data(text.utf8)] == ["\\Flagged", "Shared", "Fresh"])
        #expect(!dovecot.logText.contains("Error:"), "Dovecot logged errors:\n\(dovecot.logText)")
    }

    /// The owner's umask decides the modes, whatever it is; Dovecot (running as the owner)
    /// reads the result.
    @Test(arguments: [("027", 0o640, 0o750), ("077", 0o600, 0o700), ("002", 0o664, 0o775)])
    func modesFollowTheOwnersUmask(umask: String, file: Int, directory: Int) throws {
        let dovecot = try #require(DovecotInstance.current)
        let account = try Account(dovecot)
        let box = try Sandbox()
        let prefix = account.user.prefix + ["/bin/sh", "-c", "umask \(umask) && exec \"$@\"", "sh"]
        for folder in [nil, "Modes/sub"] {
            var args = ["-f", Self.sender, "-a", Self.recipient]
            if let folder { args += ["-m", folder] }
            let r = try box.deliver(args, input: Data("Subject: modes\n\nbody\n".utf8), prefix: prefix,
                                    environment: account.environment)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let md = account.maildir
        let newFiles = account.files("new").map { "new/" + $0 } + account.files(".Modes.sub/new").map { ".Modes.sub/new/" + $0 }
        #expect(newFiles.count == 2)
        let files = newFiles + ["subscriptions", ".Modes.sub/maildirfolder"]
        let dirs = ["", "cur", "new", "tmp", ".Modes.sub", ".Modes.sub/cur", ".Modes.sub/new", ".Modes.sub/tmp"]
        for (paths, mode) in [(files, file), (dirs, directory)] {
            for p in paths {
                let attrs = try FileManager.default.attributesOfItem(atPath: md + "/" + p)
                let got = (attrs[.posixPermissions] as? NSNumber)?.intValue ?? -1
                #expect(got == mode, "umask \(umask): \(p) is \(String(got, radix: 8)), expected \(String(mode, radix: 8))")
            }
        }
        let imap = try dovecot.fetch(user: account.user.name, password: account.password)
        #expect(imap.mailboxes["INBOX"]?.count == 1)
        #expect(imap.mailboxes["Modes.sub"]?.count == 1)
        #expect(imap.lsub.map(\.name) == ["Modes.sub"])
    }

    /// Several `mdad deliver` processes create folders at the same moment: the subscriptions
    /// file's lock makes sure none is lost, and Dovecot lists every one.
    @Test func concurrentDeliveriesIntoNewFoldersLoseNoSubscription() throws {
        let dovecot = try #require(DovecotInstance.current)
        let account = try Account(dovecot)
        let box = try Sandbox()
        let folders = (0..<8).map { "Parallel/p\($0)" }
        let jobs = folders + folders.prefix(4)          // some folders created by two processes at once
        let failures = LockedList()
        // What Sandbox.deliver passes, captured as plain values for the worker threads.
        let config = box.config.path
        let environment = box.environment.merging(account.environment) { _, b in b }
        let prefix = account.user.prefix
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            do {
                let r = try MDAD.run(["deliver", "-c", config, "-f", Self.sender, "-a", Self.recipient, "-m", jobs[i]],
                                     input: Data("Subject: parallel \(i)\n\nbody\n".utf8),
                                     environment: environment, prefix: prefix)
                if r.status != 0 { failures.append("\(jobs[i]): exit \(r.status) \(r.stderr)") }
            } catch {
                failures.append("\(jobs[i]): \(error)")
            }
        }
        #expect(failures.items.isEmpty, "\(failures.items)")
        let imap = try dovecot.fetch(user: account.user.name, password: account.password)
        let expected = Set(folders.map { $0.replacingOccurrences(of: "/", with: ".") })
        #expect(Set(imap.lsub.map(\.name)) == expected)
        #expect(imap.lsub.count == expected.count, "each folder subscribed once")
        for (i, folder) in jobs.enumerated() where i < folders.count {
            let name = folder.replacingOccurrences(of: "/", with: ".")
            #expect(imap.mailboxes[name]?.count == (i < 4 ? 2 : 1), "\(name)")
        }
        let file = try String(contentsOfFile: account.maildir + "/subscriptions", encoding: .utf8)
        #expect(file.hasPrefix("V\t2\n\n"))
        #expect(file.split(separator: "\n").count == folders.count + 1)
    }

    /// Up to 12 bytes from `offset`, in hex.
    static func hex(_ d: Data, from offset: Int) -> String {
        let bytes = d.dropFirst(offset).prefix(12)
        return bytes.isEmpty ? "(end)" : bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    static func firstDifference(_ a: Data, _ b: Data) -> Int {
        var n = 0
        for (x, y) in zip(a, b) {
            if x != y { break }
            n += 1
        }
        return n
    }
}

/// Strings collected from several threads.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}

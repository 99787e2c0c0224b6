#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("Maildir")
struct MaildirTests {
    @Test func deliversIntoNewWithDovecotNameAndSizes() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/Maildir/", hostName: "mx.example.com")
        let m = try Message.literal("Subject: hi\r\nX: y\r\n\r\nline 1\r\nline 2\n")
        let d = try md.deliver(m, prepending: [try HeaderField(name: "Delivered-To", value: "a@x")])
        #expect(dir.list(dir.path + "/Maildir") == ["cur", "new", "tmp"])
        #expect(dir.list(dir.path + "/Maildir/tmp").isEmpty)
        let names = dir.list(dir.path + "/Maildir/new")
        #expect(names.count == 1)
        let name = try #require(names.first)
        #expect(d.path == dir.path + "/Maildir/new/" + name)
        let content = try dir.read(d.path)
        let expected = Array("Delivered-To: a@x\nSubject: hi\nX: y\n\nline 1\nline 2\n".utf8)
        #expect(content == expected)
        // <sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>
        let parts = name.split(separator: ",")
        #expect(parts.count == 3)
        #expect(parts[1] == "S=\(expected.count)")
        #expect(parts[2] == "W=\(expected.count + expected.filter { $0 == 10 }.count)")
        let base = parts[0].split(separator: ".", maxSplits: 1)
        #expect(Int(base[0]) != nil)
        #expect(base[1].hasPrefix("M"))
        #expect(base[1].contains("P\(getpid())Q"))
        #expect(base[1].hasSuffix(".mx.example.com"))
        #expect(d.size == expected.count)
    }

    @Test func namesAreUniqueWithinAProcess() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        for _ in 0..<50 { _ = try md.deliver(m) }
        #expect(dir.list(dir.path + "/M/new").count == 50)
    }

    @Test func hostNameSlashAndColonAreEscaped() {
        let name = MaildirName.base(time: Timestamp(seconds: 1, microseconds: 2), pid: 3, sequence: 4, host: "a/b:c")
        #expect(name == "1.M2P3Q4.a\\057b\\072c")
    }

    @Test func foldersAreCreatedOnDemandAsMaildirPlusPlus() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/Maildir", hostName: "h")
        let m = try Message.literal("Subject: x\n\nb\n")
        let d = try md.deliver(m, folder: "Work.Reports")
        #expect(d.path.hasPrefix(dir.path + "/Maildir/.Work.Reports/new/"))
        #expect(dir.list(dir.path + "/Maildir/.Work.Reports") == ["cur", "maildirfolder", "new", "tmp"])
        #expect(dir.list(dir.path + "/Maildir/new").isEmpty)
        let inbox = try md.deliver(m, folder: "inbox")
        #expect(inbox.path.hasPrefix(dir.path + "/Maildir/new/"))
    }

    @Test func flagsGoToCurWithInfo() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let d = try md.deliver(try Message.literal("S: x\n\nb\n"), flags: ["\\Seen", "\\Flagged", "$Label1"])
        #expect(d.path.contains("/M/cur/"))
        #expect(d.path.hasSuffix(":2,FSa"))
        #expect(try dir.read(dir.path + "/M/dovecot-keywords") == Array("0 $Label1\n".utf8))
    }

    /// System flags uppercase, keywords lowercase, all in ASCII order; unknown system flags
    /// and invalid keywords are left out.
    @Test(arguments: [
        ([String](), ""),
        (["\\Seen"], ":2,S"),
        (["\\seen", "\\SEEN"], ":2,S"),
        (["\\Deleted", "\\Answered", "\\Draft", "\\Flagged", "\\Seen"], ":2,DFRST"),
        (["\\Recent"], ""),
        (["Work"], ":2,a"),
        (["Work", "$Label1", "\\Seen"], ":2,Sab"),
        (["$label1", "WORK", "\\Flagged"], ":2,Fab"),
        (["bad keyword", "(x)", "\\Seen"], ":2,S"),
    ])
    func infoPartOfFlagsAndKeywords(flags: [String], info: String) throws {
        let dir = TempDir()
        try Posix.makeDirectory(dir.path + "/M", mode: 0o700)
        // The mailbox already knows two keywords: Work = a, $Label1 = b.
        let keywords = dir.path + "/M/dovecot-keywords"
        let fd = open(keywords, O_WRONLY | O_CREAT, 0o600)
        try Posix.writeAll(fd, Array("0 Work\n1 $Label1\n".utf8))
        close(fd)
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let d = try md.deliver(try Message.literal("S: x\n\nb\n"), flags: flags)
        if info.isEmpty {
            #expect(d.path.contains("/M/new/"))
            #expect(!d.path.contains(":2,"))
        } else {
            #expect(d.path.contains("/M/cur/"))
            #expect(d.path.hasSuffix(info))
        }
        #expect(try dir.read(keywords) == Array("0 Work\n1 $Label1\n".utf8), "known keywords change nothing")
    }

    @Test func keywordsOfAFolderLiveInTheFolder() throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let d = try md.deliver(try Message.literal("S: x\n\nb\n"), folder: "Lists/work", flags: ["Important"])
        #expect(d.path.hasPrefix(dir.path + "/M/.Lists.work/cur/"))
        #expect(d.path.hasSuffix(":2,a"))
        #expect(try dir.read(dir.path + "/M/.Lists.work/dovecot-keywords") == Array("0 Important\n".utf8))
        #expect(!Posix.exists(dir.path + "/M/dovecot-keywords"))
    }

    @Test(arguments: ["", "../x", "..", ".hidden", "trailing.", "a..b", "tab\there", "nul\u{0}", "del\u{7F}",
                      "/abs", "trailing/", "a//b", "a/./b", "a/../b", "a/.b", "./x", "c1\u{85}",
                      String(repeating: "x", count: 300), String(repeating: "x/", count: 128) + "x",
                      String(repeating: "ä", count: 100)])
    func invalidFolderNamesAreRefusedBeforeTouchingAPath(_ name: String) throws {
        #expect(throws: FolderNameError.self) { try MaildirFolderName.directory(for: name) }
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        #expect(throws: DeliveryStatus.self) { try md.deliver(try Message.literal("S: x\n\nb\n"), folder: name) }
        #expect(dir.list(dir.path).isEmpty, "nothing was created for \(name.debugDescription)")
    }

    @Test(arguments: [("Junk", ".Junk"), ("Entwürfe", ".Entw&APw-rfe"), ("R&D", ".R&-D"), ("日本語", ".&ZeVnLIqe-"),
                      ("a.b", ".a.b"), ("~peter/mail/台北/日本語".replacingOccurrences("/", "."), ".~peter.mail.&U,BTFw-.&ZeVnLIqe-"),
                      ("Lists/work", ".Lists.work"), ("Lists.work", ".Lists.work"), ("Lists/work.2024", ".Lists.work.2024"),
                      ("~peter/mail/台北/日本語", ".~peter.mail.&U,BTFw-.&ZeVnLIqe-"), ("Archiv/Entwürfe", ".Archiv.Entw&APw-rfe"),
                      ("INBOX/sub", ".INBOX.sub"), (String(repeating: "x", count: 254), "." + String(repeating: "x", count: 254))])
    func folderDirectoryNames(name: String, directory: String) throws {
        #expect(try MaildirFolderName.directory(for: name) == directory)
    }

    /// A failure at any step leaves nothing in new/ and no temporary file.
    @Test(arguments: [Maildir.Step.create, .write, .sync, .link, .directorySync])
    func failureAtAnyStepLeavesNothingBehind(step: Maildir.Step) throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let m = try Message.literal("Subject: x\n\nbody\n")
        do {
            _ = try md.deliver(m, prepending: [], folder: nil, flags: [], fault: { s in
                if s == step { throw SystemError("injected", path: "/x", errno: 28) }
            })
            Issue.record("delivery must fail at \(step)")
        } catch let s as DeliveryStatus {
            #expect(s.status == .systemFull)
            #expect(s.status.isTemporary)
        }
        #expect(dir.list(dir.path + "/M/new").isEmpty)
        #expect(dir.list(dir.path + "/M/tmp").isEmpty)
        #expect(dir.list(dir.path + "/M/cur").isEmpty)
    }

    /// `W=` as Dovecot computes it: a CR before every LF not already preceded by CR. A bare CR
    /// before a CRLF (`\r\r\n`) is stored as CR LF, and that LF gains nothing.
    @Test(arguments: [("a\nb\n", 4, 6), ("a\r\nb\r\n", 4, 6), ("a\r\r\nb\n", 5, 6), ("x\ry\n", 4, 5), ("a\r\r\n\r\r\n", 5, 5)])
    func virtualSizeCountsOnlyLineFeedsWithoutCR(body: String, size: Int, virtualSize: Int) throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let d = try md.deliver(try Message.literal("S: x\n\n" + body))
        #expect(d.size == 6 + size)
        #expect(d.virtualSize == 6 + 2 + virtualSize)
        #expect(d.path.hasSuffix(",S=\(6 + size),W=\(6 + 2 + virtualSize)"))
    }

    /// The CR LF count must not depend on how the bytes are split into writes.
    @Test func crlfCountIgnoresChunking() throws {
        struct Null: ByteSink { mutating func write(_ bytes: UnsafeRawBufferPointer) throws {} }
        let text = Array("a\r\nb\r\r\n\r\rc\n\r\n".utf8)
        for size in 1...text.count {
            var counter = CRLFCounter(Null())
            var i = 0
            while i < text.count {
                try text[i..<min(i + size, text.count)].withUnsafeBytes { try counter.write($0) }
                i += size
            }
            #expect(counter.pairs == 3, "chunks of \(size)")
        }
    }

    @Test func largeSpooledMessageIsStreamedWithLineEndingsNormalized() throws {
        let dir = TempDir()
        var line = Array("0123456789abcdefghijklmnopqrstuvwxyz\r\n".utf8)
        var input = Array("Subject: big\r\n\r\n".utf8)
        for i in 0..<60_000 { line[0] = UInt8(48 + i % 10); input += line }
        var w = SpoolWriter(memoryLimit: 4096, sizeLimit: 0, directory: dir.path)
        try w.append(input)
        let spool = w.finish()
        #expect(!spool.isInMemory)
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let d = try md.deliver(try Message.parse(spool))
        let expected = input.filter { $0 != 13 }
        #expect(try dir.read(d.path) == expected)
        #expect(d.virtualSize == input.count)
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}

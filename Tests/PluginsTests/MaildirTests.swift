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
        #expect(d.path.hasSuffix(":2,FS"))
    }

    @Test(arguments: ["", "../x", "a/b", "..", ".hidden", "trailing.", "a..b", "tab\there", "nul\u{0}", "del\u{7F}",
                      String(repeating: "x", count: 300)])
    func invalidFolderNamesAreRefusedBeforeTouchingAPath(_ name: String) throws {
        #expect(throws: FolderNameError.self) { try MaildirFolderName.directory(for: name) }
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        #expect(throws: DeliveryStatus.self) { try md.deliver(try Message.literal("S: x\n\nb\n"), folder: name) }
        #expect(dir.list(dir.path).isEmpty, "nothing was created for \(name.debugDescription)")
    }

    @Test(arguments: [("Junk", ".Junk"), ("Entwürfe", ".Entw&APw-rfe"), ("R&D", ".R&-D"), ("日本語", ".&ZeVnLIqe-"),
                      ("a.b", ".a.b"), ("~peter/mail/台北/日本語".replacingOccurrences("/", "."), ".~peter.mail.&U,BTFw-.&ZeVnLIqe-")])
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

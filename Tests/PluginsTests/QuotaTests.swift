#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("quotas")
struct QuotaTests {
    @Test(arguments: [("100M", QuotaLimit(storage: 100 << 20)), ("storage=1G messages=5000", QuotaLimit(storage: 1 << 30, messages: 5000)),
                      ("10485760S,1000C", QuotaLimit(storage: 10_485_760, messages: 1000)), ("2048", QuotaLimit(storage: 2048)),
                      ("messages=3", QuotaLimit(messages: 3))])
    func quotasAreReadAsUsersWriteThem(text: String, limit: QuotaLimit) {
        #expect(QuotaLimit(parsing: text) == limit)
    }

    @Test(arguments: ["", "lots", "storage=", "-5", "messages=x"])
    func badQuotasAreRefused(text: String) {
        #expect(QuotaLimit(parsing: text) == nil)
    }

    static func message(_ body: String) throws -> Message {
        try Message.literal("Subject: q\n\n" + body)
    }

    @Test func deliveriesAreRecordedInMaildirsizeAndTheOneTooManyIsRefused() throws {
        let dir = TempDir()
        var maildir = Maildir(path: dir.path + "/Maildir", hostName: "h")
        maildir.quota = MaildirQuota(root: maildir.path, limit: QuotaLimit(storage: 1000, messages: 3))
        let m = try Self.message(String(repeating: "x", count: 200) + "\n")
        let first = try maildir.deliver(m)
        _ = try maildir.deliver(m)
        let text = String(decoding: try dir.read(maildir.path + "/maildirsize"), as: UTF8.self)
        // The definition, the count of what was there, then one line per delivery.
        #expect(text == "1000S,3C\n0 0\n\(first.size) 1\n\(first.size) 1\n", "\(text)")
        #expect(try maildir.quota!.usage() == .init(bytes: 2 * first.size, messages: 2))
        _ = try maildir.deliver(m)
        #expect(throws: DeliveryStatus(.mailboxFull, "Mailbox full: quota exceeded")) { _ = try maildir.deliver(m) }
        #expect(dir.list(maildir.path + "/new").count == 3)
        #expect(dir.list(maildir.path + "/tmp").filter { !$0.hasPrefix("maildirsize") }.isEmpty, "nothing left in tmp/")
    }

    @Test func aStaleOrChangedMaildirsizeIsRebuiltFromTheMessages() throws {
        let dir = TempDir()
        var maildir = Maildir(path: dir.path + "/Maildir", hostName: "h")
        let m = try Self.message("hello\n")
        let a = try maildir.deliver(m), b = try maildir.deliver(m, folder: "Lists")
        // A wrong file with another definition: rebuilt to the real figures.
        let fd = open(maildir.path + "/maildirsize", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = "5S\n999 999\n".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        maildir.quota = MaildirQuota(root: maildir.path, limit: QuotaLimit(storage: 1 << 20))
        #expect(try maildir.quota!.usage() == .init(bytes: a.size + b.size, messages: 2))
        #expect(String(decoding: try dir.read(maildir.path + "/maildirsize"), as: UTF8.self) == "1048576S\n\(a.size + b.size) 2\n")
    }

    @Test func mailboxSizeLimitCapsMboxFilesAndSingleMaildirMessages() throws {
        let dir = TempDir()
        var mbox = MboxAppender(path: dir.path + "/mbox")
        mbox.sizeLimit = 600
        let m = try Self.message(String(repeating: "y", count: 300) + "\n")
        try mbox.append(m, sender: "s@x")
        #expect(throws: DeliveryStatus.self) { try mbox.append(m, sender: "s@x") }
        var maildir = Maildir(path: dir.path + "/Maildir", hostName: "h")
        maildir.messageSizeLimit = 100
        #expect(throws: DeliveryStatus(.mailboxFull, "Mailbox full: quota exceeded")) { _ = try maildir.deliver(m) }
    }

    @Test func quotaPolicyLooksUpAddressThenUserThenDefault() throws {
        var config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("quota_maps", "inline:{ alice@example.org=10M, bob=messages=5, @example.net=1G }")
        config.set("quota_default", "50M")
        config.set("recipient_delimiter", "+")
        let policy = try QuotaPolicy(configuration: config)
        #expect(try policy.limit(address: "alice+x@example.org", user: "alice") == QuotaLimit(storage: 10 << 20))
        #expect(try policy.limit(address: "bob@example.org", user: "bob") == QuotaLimit(messages: 5))
        #expect(try policy.limit(address: "carol@example.net", user: nil) == QuotaLimit(storage: 1 << 30))
        #expect(try policy.limit(address: "dave@example.org", user: "dave") == QuotaLimit(storage: 50 << 20))
        #expect(policy.exceeded.status == EnhancedStatus(4, 2, 2))
        config.set("quota_full_tempfail", "no")
        #expect(try QuotaPolicy(configuration: config).exceeded.status == EnhancedStatus(5, 2, 2))
    }
}

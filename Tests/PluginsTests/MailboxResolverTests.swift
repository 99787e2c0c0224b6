import Testing
@testable import Pipeline
@testable import Plugins

@Suite("mailbox resolver")
struct MailboxResolverTests {
    func resolver(_ mainCF: String) throws -> MailboxResolver {
        let c = try Configuration(mainCF: mainCF, file: "main.cf", system: SystemInfo(hostName: "h.example"))
        return try MailboxResolver(c)
    }

    let virtual = """
        virtual_mailbox_domains = example.com, inline:{ example.net=x }
        virtual_mailbox_base = /var/vmail
        virtual_mailbox_maps = inline:{ alice@example.com=example.com/alice/, bob@example.net=example.net/bob/, \
        evil@example.com=../../etc/, mbox@example.com=example.com/mbox, low@example.com=example.com/low/ }
        virtual_uid_maps = inline:{ low@example.com=5 } static:5000
        virtual_gid_maps = static:5000
        recipient_delimiter = +
        """

    @Test func virtualMailboxesAsPostfixVirtual() throws {
        let r = try resolver(virtual)
        #expect(try r.isVirtual("alice@EXAMPLE.com"))
        #expect(try r.isVirtual("bob@example.net"))
        #expect(try !r.isVirtual("alice@example.org"))
        let a = try r.virtualMailbox("alice+news@example.com")
        #expect(a.path == "/var/vmail/example.com/alice")
        #expect(a.uid == 5000 && a.gid == 5000)
        #expect(a.kind == .virtual)
    }

    @Test(arguments: [("nobody@example.com", "5.1.1"), ("evil@example.com", "4.3.5"), ("low@example.com", "4.3.5")])
    func refusals(address: String, code: String) throws {
        let r = try resolver(virtual)
        do {
            _ = try r.virtualMailbox(address)
            Issue.record("\(address) must be refused")
        } catch {
            #expect(error.status.description == code, "\(error)")
        }
    }

    @Test func mboxAndSpoolMailboxesAsPostfixLocal() throws {
        let user = LocalUser(name: "alice", uid: 1000, gid: 1000, home: "/home/alice")
        let mbox = try resolver("home_mailbox = Mailbox\n").systemMailbox(user)
        #expect(mbox.path == "/home/alice/Mailbox" && mbox.format == .mbox)
        let spool = try resolver("home_mailbox =\nmail_spool_directory = /var/spool/mail\n").systemMailbox(user)
        #expect(spool.path == "/var/spool/mail/alice" && spool.format == .mbox)
        let v = try resolver(virtual).virtualMailbox("mbox@example.com")
        #expect(v.path == "/var/vmail/example.com/mbox" && v.format == .mbox)
    }

    @Test func systemMailboxUnderHome() throws {
        let r = try resolver("home_mailbox = Mail/inbox/\n")
        let t = try r.systemMailbox(LocalUser(name: "alice", uid: 1000, gid: 1000, home: "/home/alice/"))
        #expect(t.path == "/home/alice/Mail/inbox")
        #expect(t.kind == .system)
    }

    @Test(arguments: ["virtual_mailbox_domains = example.com\n",
                      "virtual_mailbox_domains = example.com\nvirtual_mailbox_maps = static:x/\n",
                      "home_mailbox = /var/mail/\n", "home_mailbox = ../x/\n"])
    func incompleteConfigurationIsAnError(_ text: String) {
        #expect(throws: ConfigError.self) { try resolver(text) }
    }
}

import Testing
@testable import Pipeline

@Suite("passwd-file tables")
struct PasswdFileTableTests {
    static let text = """
        # Dovecot's users file
        alice@example.org:{PLAIN}pw:5001:5002::/home/vmail/alice::
        bob@example.org:{SHA512-CRYPT}$6$x:5003:5004::/home/vmail/bob::userdb_mail=maildir:~/mail:LAYOUT=fs
        carol@example.org:x:5005:5005::/srv/carol:/bin/false:userdb_mail=mbox:~/mbox
        broken line
        Alice@Example.org:x:1:1::/elsewhere::
        """

    @Test func eachParameterGetsItsFieldFromOneFile() throws {
        let t = PasswdFileTable(text: Self.text, file: "users", name: "passwd-file:users")
        #expect(try t.lookup("alice@example.org") == "/home/vmail/alice/Maildir/")
        #expect(try t.lookup("ALICE@example.org", field: .uid) == "5001")
        #expect(try t.lookup("alice@example.org", field: .gid) == "5002")
        #expect(try t.lookup("bob@example.org") == "/home/vmail/bob/mail/", "userdb_mail=maildir:~/mail, options dropped")
        #expect(try t.lookup("carol@example.org") == "/srv/carol/mbox", "an mbox location stays a file")
        #expect(try t.lookup("dave@example.org") == nil)
        #expect(t.warnings.map(\.line) == [5, 6], "the malformed line and the duplicate are reported with their lines")
        let list = TableList([t])
        #expect(try list.lookupAddress("bob+tag@example.org", recipientDelimiter: "+", field: .uid) == "5003")
    }

    @Test func otherTablesAnswerTheirOneValueWhateverTheField() throws {
        let t = try InlineTable(argument: "{ a@x=1000 }", name: "inline")
        #expect(try t.lookup("a@x", field: .uid) == "1000")
    }

    @Test func theRegistryOpensIt() throws {
        #expect(TableRegistry.builtin.isTable("passwd-file:/etc/dovecot/users"))
    }
}

import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Pipeline

@Suite("lookup tables")
struct TablesTests {
    let registry = TableRegistry.builtin

    @Test func textHashReadsPostfixSourceFormat() throws {
        let t = TextHashTable(text: """
            # virtual mailboxes
            Alice@Example.com    example.com/alice/
            bob@example.com\texample.com/bob/
              # a comment inside
            carol@example.com  example.com/
               carol/
            @example.net         catchall/
            nokey
            alice@example.com    duplicate/

            """, name: "texthash:test")
        #expect(try t.lookup("alice@example.com") == "example.com/alice/")
        #expect(try t.lookup("ALICE@EXAMPLE.COM") == "example.com/alice/")
        #expect(try t.lookup("bob@example.com") == "example.com/bob/")
        #expect(try t.lookup("carol@example.com") == "example.com/   carol/", "a continuation line is appended as it is, as Postfix's readlline does")
        #expect(try t.lookup("@example.net") == "catchall/")
        #expect(try t.lookup("nobody@example.com") == nil)
        #expect(t.count == 4)
        #expect(t.warnings.map(\.line) == [8, nil], "Postfix names no line for a duplicate")
        #expect(t.warnings[0].message.contains("expected format: key whitespace value"))
        #expect(t.warnings[1].message.contains("duplicate entry"))
    }

    @Test func staticAndInline() throws {
        #expect(try registry.open("static:5000").lookup("anything") == "5000")
        #expect(try registry.open("static:{ a value }").lookup("x") == "a value")
        let inline = try registry.open("inline:{ a@x=1, B@x = 2, { c@x = three words } }")
        #expect(try inline.lookup("a@x") == "1")
        #expect(try inline.lookup("b@X") == "2")
        #expect(try inline.lookup("c@x") == "three words")
        #expect(try inline.lookup("d@x") == nil)
        let spaced = try registry.open("inline:{a=1 b=2}")
        #expect(try spaced.lookup("b") == "2")
    }

    @Test(arguments: ["nosuchtype:/x", "plain", "inline:a=b", "inline:{ novalue }", "texthash:/nonexistent/mdad/table"])
    func badTableSpecsAreConfigErrors(_ spec: String) {
        #expect(throws: ConfigError.self) { try registry.open(spec) }
    }

    @Test func listsSearchInOrderAndKeepBraces() throws {
        #expect(TableRegistry.splitTableList("static:1, inline:{ a=b, c=d } texthash:/x") == ["static:1", "inline:{ a=b, c=d }", "texthash:/x"])
        let list = TableList([try registry.open("inline:{ a=first }"), try registry.open("static:second")])
        #expect(try list.lookup("a") == "first")
        #expect(try list.lookup("z") == "second")
    }

    @Test func addressLookupOrderAsPostfix() throws {
        let list = TableList([try registry.open("inline:{ user+ext@example.com=exact, user@example.com=base, @example.com=domain }")])
        #expect(try list.lookupAddress("User+Ext@Example.com", recipientDelimiter: "+") == "exact")
        #expect(try list.lookupAddress("user+other@example.com", recipientDelimiter: "+") == "base")
        #expect(try list.lookupAddress("user+other@example.com", recipientDelimiter: "") == "domain", "no delimiter: no extension stripping")
        #expect(try list.lookupAddress("someone@example.com") == "domain")
        #expect(try list.lookupAddress("someone@example.org") == nil)
        let noCatchAll = TableList([try registry.open("inline:{ +x@example.com=odd }")])
        #expect(try noCatchAll.lookupAddress("+x@example.com", recipientDelimiter: "+") == "odd")
    }

    @Test func listParameterErrorsNameFileAndLine() throws {
        let c = try Configuration(mainCF: "myhostname = h.example\nvirtual_mailbox_maps = texthash:/nonexistent/x\n",
                                  file: "/etc/mdad/main.cf", system: SystemInfo(hostName: "h.example"))
        do {
            _ = try registry.openList(c, "virtual_mailbox_maps")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("virtual_mailbox_maps"))
            #expect(error.file == "/nonexistent/x" || error.line == 2)
        }
    }
}

@Suite("pcre tables take the limits of main.cf")
struct PCRELimitsFromMainCFTests {
    @Test func matchLimitFromConfiguration() throws {
        var template = Array("/tmp/mdad-pcre-limits.XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { _ = system("rm -rf '\(dir)'") }
        let path = dir + "/table"
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        try Posix.writeAll(fd, Array("/^(a+)+$/ catastrophic\n".utf8))
        close(fd)
        let tight = try Configuration(mainCF: "pcre_match_limit = 1000\npcre_depth_limit = 100\n", file: "main.cf",
                                      system: SystemInfo(hostName: "h.example"))
        let table = try TableRegistry.configured(tight).open("pcre:" + path)
        #expect(throws: TableError.self) { try table.lookup(String(repeating: "a", count: 30) + "b") }
        let loose = try TableRegistry.builtin.open("pcre:" + path)
        #expect(try loose.lookup("aaa") == "catastrophic")
    }
}

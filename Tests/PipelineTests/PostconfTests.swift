import Testing
@testable import Pipeline

@Suite("postconf")
struct PostconfTests {
    let system = SystemInfo(hostName: "mx.example.com")
    let text = """
        # header comment
        myhostname = mx.example.com
        mydestination = $myhostname,
            localhost
        # middle
        my_macro = example.org
        myorigin = $my_macro
        unknown_thing = 1

        # end

        """

    func config() throws -> Configuration {
        try Configuration(mainCF: text, file: "/etc/mdad/main.cf", system: system)
    }

    @Test func nonDefaultShowsMainCFSortedWithoutUnused() throws {
        let out = try Postconf.show(config(), mode: .nonDefault, expand: false, names: [])
        #expect(out.lines == ["my_macro = example.org", "mydestination = $myhostname, localhost",
                              "myhostname = mx.example.com", "myorigin = $my_macro"])
        #expect(out.warnings == ["postconf: warning: /etc/mdad/main.cf, line 8: unused parameter: unknown_thing=1"])
    }

    @Test func selectedNamesDefaultsAndExpansion() throws {
        let c = try config()
        #expect(try Postconf.show(c, mode: .current, expand: false, names: ["myorigin", "home_mailbox"]).lines
                == ["myorigin = $my_macro", "home_mailbox = Maildir/"])
        #expect(try Postconf.show(c, mode: .current, expand: true, names: ["mydestination"]).lines
                == ["mydestination = mx.example.com, localhost"])
        #expect(try Postconf.show(c, mode: .defaults, expand: false, names: ["myorigin", "mydomain"]).lines
                == ["myorigin = $myhostname", "mydomain = example.com"])
        let unknown = try Postconf.show(c, mode: .current, expand: false, names: ["nosuch"])
        #expect(unknown.lines.isEmpty)
        #expect(unknown.warnings.contains("postconf: warning: nosuch: unknown parameter"))
    }

    @Test func everyParameterIsListed() throws {
        let all = try Postconf.show(config(), mode: .current, expand: false, names: [])
        #expect(all.lines.count == ParameterTable().order.count)
        #expect(all.lines == all.lines.sorted())
        #expect(all.lines.contains("pipeline ="))
    }

    @Test func editReplacesInPlaceKeepsCommentsAndAppends() {
        let edited = Postconf.edit(text, settings: [("mydestination", "a, b"), ("new_param", "y")], removals: [])
        #expect(edited == """
            # header comment
            myhostname = mx.example.com
            mydestination = a, b
            # middle
            my_macro = example.org
            myorigin = $my_macro
            unknown_thing = 1

            # end
            new_param = y

            """)
        let removed = Postconf.edit(edited, settings: [], removals: ["myhostname", "unknown_thing"])
        #expect(!removed.contains("myhostname"))
        #expect(!removed.contains("unknown_thing"))
        #expect(removed.contains("# header comment\nmydestination = a, b\n"))
    }

    @Test func everyDuplicateIsReplacedAsPostfixDoes() {
        let edited = Postconf.edit("a = 1\nb = 2\na = 3\n", settings: [("a", "x")], removals: [])
        #expect(edited == "a = x\nb = 2\na = x\n")
    }

    @Test(arguments: ["novalue", "bad name = 1", "= 1"])
    func badSettingsAreRefused(_ s: String) {
        #expect(throws: ConfigError.self) { try Postconf.parseSetting(s) }
    }

    @Test func macroReferencesAreFound() {
        #expect(Postconf.references(in: "$a, ${b?x} $(c) $$d") == ["a", "b", "c", "d"])
    }
}

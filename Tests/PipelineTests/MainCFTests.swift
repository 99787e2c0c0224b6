import Testing
@testable import Pipeline

@Suite("main.cf syntax and expansion")
struct MainCFTests {
    let system = SystemInfo(hostName: "mail.example.com")

    func config(_ text: String) throws(ConfigError) -> Configuration {
        try Configuration(mainCF: text, file: "/etc/mdad/main.cf", system: system)
    }

    @Test func assignmentsCommentsAndContinuations() throws {
        let c = try config("""
            # a comment
            myhostname = mx.example.org
              # an indented comment
            mydestination = $myhostname,
                localhost
            \t  , other.example
            message_size_limit=5000
            empty =
            hash = a # is not a comment here

            """)
        #expect(try c.string("myhostname") == "mx.example.org")
        #expect(try c.list("mydestination") == ["mx.example.org", "localhost", "other.example"])
        #expect(try c.integer("message_size_limit") == 5000)
        #expect(c.rawValue("empty") == "")
        #expect(c.rawValue("hash") == "a # is not a comment here")
        #expect(c.unknownEntries.map(\.name) == ["empty", "hash"])
    }

    @Test func crlfFilesAreRead() throws {
        let c = try config("myorigin = example.net\r\nmydomain = x.example\r\n")
        #expect(try c.string("myorigin") == "example.net")
        #expect(try c.string("mydomain") == "x.example")
    }

    @Test func laterEntryWinsWithWarning() throws {
        let c = try config("myorigin = a.example\nmyorigin = b.example\n")
        #expect(try c.string("myorigin") == "b.example")
        #expect(c.warnings.count == 1)
        #expect(c.warnings[0].line == 2)
        #expect(c.warnings[0].description.contains("line 1"))
    }

    @Test(arguments: [
        ("myhostname mx.example.org\n", 1, "missing '='"),
        ("\n\n  indented = 1\n", 3, "must not start with whitespace"),
        ("a = 1\nbad-name = 2\n", 2, "bad parameter name"),
        (" = x\n", 1, "must not start with whitespace"),
        ("= x\n", 1, "missing parameter name"),
    ])
    func syntaxErrorsNameFileAndLine(text: String, line: Int, fragment: String) {
        do {
            _ = try config(text)
            Issue.record("expected an error for \(text.debugDescription)")
        } catch {
            #expect(error.file == "/etc/mdad/main.cf")
            #expect(error.line == line)
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("/etc/mdad/main.cf, line \(line): "))
        }
    }

    @Test func postfixDefaults() throws {
        let c = Configuration(system: system)
        #expect(try c.string("myhostname") == "mail.example.com")
        #expect(try c.string("mydomain") == "example.com")
        #expect(try c.string("myorigin") == "mail.example.com")
        #expect(try c.list("mydestination") == ["mail.example.com", "localhost.example.com", "localhost"])
        let bare = Configuration(system: SystemInfo(hostName: "box"))
        #expect(try bare.string("myhostname") == "box.localdomain")
        #expect(try bare.string("mydomain") == "localdomain")
    }

    @Test func expansionForms() throws {
        var c = try config("""
            a = alpha
            b = $a-${a}-$(a)
            e =
            c = ${a?set}/${e?set}/${a:unset}/${e:unset}/${a?{with braces}}
            d = $$a $undefined_name end
            nested = $b/$c
            """)
        #expect(try c.string("b") == "alpha-alpha-alpha")
        #expect(try c.string("c") == "set///unset/with braces")
        #expect(try c.string("d") == "$a  end")
        #expect(try c.string("nested") == "alpha-alpha-alpha/set///unset/with braces")
        c.set("a", "changed")
        #expect(try c.string("b") == "changed-changed-changed", "expansion happens at lookup")
    }

    @Test func recursiveReferencesAreErrorsNotHangs() throws {
        let c = try config("x = 1\nloop_a = $loop_b\nloop_b = ${loop_a}\nself = x$self\n")
        for name in ["loop_a", "self"] {
            #expect(throws: ConfigError.self) { try c.string(name) }
            do { _ = try c.string(name) } catch {
                #expect(error.message.contains("recursive"))
                #expect(error.file == "/etc/mdad/main.cf")
                #expect(error.line != nil)
            }
        }
    }

    @Test func unclosedBraceIsAnError() throws {
        let c = try config("a = ${myhostname\n")
        #expect(throws: ConfigError.self) { try c.string("a") }
    }

    @Test func typedValuesAreValidatedWithFileAndLine() throws {
        let c = try config("myorigin = x\nmessage_size_limit = 10MB\n")
        do {
            try c.validate()
            Issue.record("10MB must not validate")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("message_size_limit"))
            #expect(error.message.contains("expected a whole number"))
        }
        let neg = try config("header_size_limit = -1\n")
        #expect(throws: ConfigError.self) { try neg.validate() }
    }

    @Test func listsSplitOnCommasAndWhitespace() {
        #expect(Configuration.splitList("a, b,c\td  ,, e\n f") == ["a", "b", "c", "d", "e", "f"])
        #expect(Configuration.splitList(" ,  ") == [])
    }

    @Test func configDirectoryPrecedence() {
        #expect(Configuration.directory(commandLine: "/x").path == "/x")
        #expect(Configuration.directory(commandLine: "/x").explicit)
    }

    @Test func missingDefaultDirectoryMeansEmbeddedDefaults() throws {
        let c = try Configuration.load(directory: "/nonexistent-mdad-dir", explicit: false, system: system)
        #expect(c.file == nil)
        #expect(try c.string("home_mailbox") == "Maildir/")
        #expect(throws: ConfigError.self) {
            try Configuration.load(directory: "/nonexistent-mdad-dir", explicit: true, system: system)
        }
    }
}

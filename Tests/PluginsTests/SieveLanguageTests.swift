import Testing
@testable import Pipeline
@testable import Plugins

/// RFC 5228: lexical structure, the core commands and tests, match types, comparators,
/// address parts, implicit keep, stop, and the errors.
@Suite("Sieve language (RFC 5228)")
struct SieveLanguageTests {
    @Test func lexerReadsStringsNumbersCommentsAndMultiLineText() throws {
        var lx = SieveLexer(Array("# hash\n/* bracket\n comment */ \"a\\\"b\\\\c\\d\" 10K 2M :Tag text: # c\nline\n..dot\n.\n".utf8), script: "t")
        #expect(try lx.next() == .string("a\"b\\cd"))
        #expect(lx.tokenLine == 3)
        #expect(try lx.next() == .number(10 * 1024))
        #expect(try lx.next() == .number(2 << 20))
        #expect(try lx.next() == .tag("Tag"))
        #expect(try lx.next() == .string("line\r\n.dot\r\n"))
        #expect(try lx.next() == .end)
    }

    @Test func lexerErrorsNameTheLine() {
        #expect(SieveRun.compileError("keep;\n\"open")?.description == "test: line 2, column 6: error: end of file before end of quoted string started at line 2.")
        #expect(SieveRun.compileError("keep;\n/* open\n")?.line == 3)
        #expect(SieveRun.compileError("keep;\n@")?.description == "test: line 2, column 1: error: unexpected character(s) starting with '@'.")
        #expect(SieveRun.compileError("size :over 99999999999G;") != nil)
    }

    @Test func rfc5228Section9Example() throws {
        // The example script of RFC 5228 section 9.
        let script = """
            require "fileinto";
            if header :is "Sender" "owner-ietf-mta-filters@imc.org"
                    {
                        fileinto "filter";  # move to "filter" mailbox
                    }
            elsif address :DOMAIN :is ["From", "To"] "example.com"
                    {
                        keep;               # keep in "In" mailbox
                    }
            elsif anyof (NOT address :all :contains
                           ["To", "Cc", "Bcc"] "me@example.com",
                         header :matches "subject"
                           ["*make*money*fast*", "*university*dipl*mas*"])
                    {
                        fileinto "spam";   # move to "spam" mailbox
                    }
            else
                    {
                        fileinto "personal";
                    }
            """
        let base = "From: x@other.org\nTo: list@x.org\nCc: me@example.com\nSubject: hi\n\nb\n"
        #expect(SieveRun.folders(try SieveRun.run(script, message: "Sender: owner-ietf-mta-filters@imc.org\n" + base)) == ["filter"])
        #expect(SieveRun.folders(try SieveRun.run(script, message: "From: a@example.com\nTo: b@x.org\n\nb\n")) == ["INBOX"])
        #expect(SieveRun.folders(try SieveRun.run(script, message: "From: a@x.org\nTo: list@x.org\nCc: me@example.com\nSubject: Make lots of MONEY fast\n\nb\n")) == ["spam"])
        #expect(SieveRun.folders(try SieveRun.run(script, message: "From: a@x.org\nTo: you@x.org\n\nb\n")) == ["spam"])
        #expect(SieveRun.folders(try SieveRun.run(script, message: base)) == ["personal"])
    }

    @Test func implicitKeepStopAndDiscard() throws {
        #expect(SieveRun.folders(try SieveRun.run("")) == ["(keep)"])
        #expect(SieveRun.folders(try SieveRun.run("stop; discard;")) == ["(keep)"])
        let d = try SieveRun.run("discard;")
        #expect(!d.implicitKeep)
        #expect(d.actions == [.discard])
        #expect(SieveRun.folders(try SieveRun.run("keep; keep;")) == ["INBOX"])
    }

    @Test func matchTypesAndComparators() throws {
        func t(_ test: String) throws -> Bool { !(try SieveRun.run("if \(test) { discard; }").implicitKeep) }
        #expect(try t("header :is \"subject\" \"[devel] meeting TOMORROW\""))
        #expect(!(try t("header :is :comparator \"i;octet\" \"subject\" \"[devel] meeting TOMORROW\"")))
        #expect(try t("header :contains \"subject\" \"MEET\""))
        #expect(try t("header :matches \"subject\" \"\\\\[devel] *\""))
        #expect(try t("header :matches \"subject\" \"?devel? M??ting*\""))
        #expect(!(try t("header :matches \"subject\" \"devel*\"")))
        #expect(try t("header :matches \"x-spam-score\" \"*\""))
        #expect(!(try t("header :contains \"x-nothere\" \"\"")))
        #expect(try t("exists [\"from\", \"date\"]"))
        #expect(!(try t("exists [\"from\", \"x-nothere\"]")))
        #expect(try t("size :over 100"))
        #expect(try t("size :under 1K"))
        #expect(try t("allof (true, not false)"))
        #expect(!(try t("anyof (false, not true)")))
    }

    @Test func addressPartsAndEnvelope() throws {
        func t(_ test: String) throws -> Bool {
            !(try SieveRun.run("require [\"envelope\", \"subaddress\"]; if \(test) { discard; }").implicitKeep)
        }
        #expect(try t("address :localpart \"from\" \"alice\""))
        #expect(try t("address :domain \"to\" \"example.net\""))
        #expect(try t("address :all \"to\" \"bob+lists@example.com\""))
        #expect(try t("address :user \"to\" \"bob\""))
        #expect(try t("address :detail \"to\" \"lists\""))
        #expect(!(try t("address :detail \"to\" \"\"")), "carol has no detail, bob's is not empty")
        #expect(try t("envelope :domain \"from\" \"example.org\""))
        #expect(try t("envelope :detail \"to\" \"lists\""))
        let null = SieveRun.environment(sender: "")
        #expect(!(try SieveRun.run("require \"envelope\"; if envelope :all :is \"from\" \"\" { discard; }", environment: null).implicitKeep))
    }

    @Test func compileErrorsAreWordedAsPigeonhole() {
        #expect(SieveRun.compileError("require \"nosuch\";")?.description == "test: line 1, column 1: error: require command: unknown Sieve capability `nosuch'.")
        #expect(SieveRun.compileError("keep;\nfrob;")?.description == "test: line 2, column 1: error: unknown command 'frob' (only reported once at first occurrence).")
        #expect(SieveRun.compileError("fileinto \"x\";")?.description.contains("unknown command 'fileinto'") == true)
        #expect(SieveRun.compileError("keep;\nrequire \"fileinto\";")?.message == "require command can only be placed at top level at the beginning of the file")
        #expect(SieveRun.compileError("if true { keep; }\nelse { stop; }\nelse { stop; }")?.line == 3)
        #expect(SieveRun.compileError("redirect \"not an address\";")?.line == 1)
        #expect(SieveRun.compileError("if header :is :contains \"a\" \"b\" { keep; }") != nil)
        #expect(SieveRun.compileError("if header \"a\" { keep; }") != nil)
        #expect(SieveRun.compileError("keep") != nil)
        #expect(SieveRun.compileError("if size :over 1 :under 2 { keep; }") != nil)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "if true {", count: 200) + String(repeating: "}", count: 200)
        #expect(SieveRun.compileError(deep)?.message.contains("nested too deeply") == true)
        let tests = "if " + String(repeating: "not ", count: 500) + "true { keep; }"
        #expect(SieveRun.compileError(tests) != nil)
    }

    @Test func runtimeLimitsStopARun() throws {
        var env = SieveRun.environment()
        env.limits.maxRedirects = 2
        #expect(throws: SieveRuntimeError.self) {
            _ = try SieveRun.run("redirect \"a@x.org\"; redirect \"b@x.org\"; redirect \"c@x.org\";", environment: env)
        }
        env.limits.maxActions = 3
        #expect(throws: SieveRuntimeError.self) {
            _ = try SieveRun.run("require \"fileinto\"; fileinto \"a\"; fileinto \"b\"; fileinto \"c\"; fileinto \"d\";", environment: env)
        }
        env.limits.maxSteps = 50
        let long = String(repeating: "if false { keep; }\n", count: 100)
        #expect(throws: SieveRuntimeError.self) { _ = try SieveRun.run(long, environment: env) }
    }

    @Test func rejectConflictsWithKeepAtRunTime() throws {
        #expect(throws: SieveRuntimeError.self) { _ = try SieveRun.run("require \"reject\"; keep; reject \"no\";") }
        let r = try SieveRun.run("require \"reject\"; reject \"no\";")
        #expect(r.actions == [.reject(reason: "no", extended: false)])
        #expect(!r.implicitKeep)
    }

    /// ereject (RFC 5429): needs its own require, refuses like reject (no implicit keep), conflicts
    /// with keep, and is listed as an ereject. Pigeonhole 2.3.19 has no ereject to judge it by.
    @Test func erejectIsItsOwnExtensionAndRefusesLikeReject() throws {
        #expect(SieveRun.compileError("require \"reject\"; ereject \"no\";")?.message.contains("unknown command 'ereject'") == true)
        let r = try SieveRun.run("require \"ereject\"; ereject \"go away\";")
        #expect(r.actions == [.reject(reason: "go away", extended: true)])
        #expect(!r.implicitKeep)
        #expect(throws: SieveRuntimeError.self) { _ = try SieveRun.run("require \"ereject\"; keep; ereject \"no\";") }
    }

    @Test func resultIsListedAsPigeonholeListsIt() throws {
        let r = try SieveRun.run("require [\"fileinto\", \"imap4flags\", \"copy\"]; fileinto :copy :flags [\"\\\\Seen\", \"\\\\Deleted x\"] \"Foo\"; redirect \"a@b.example\"; addflag \"\\\\flagged\";")
        #expect(SieveResultPrinter.format(r) == """

            Performed actions:

             * store message in folder: Foo
                    + preserve implicit keep
                    + add IMAP flags: \\deleted \\seen x
             * redirect message to: <a@b.example>

            Implicit keep:

              (none)


            """)
    }
}

/// Damaged scripts: every cut, insertion and swap of a real script either compiles and runs or
/// is refused with a SieveError — never a crash or a hang.
@Suite("Sieve robustness")
struct SieveRobustnessTests {
    static let base = """
        require ["fileinto", "variables", "imap4flags", "relational", "comparator-i;ascii-numeric", "regex", "body", "editheader", "vacation", "date", "index", "enotify", "encoded-character"];
        if header :matches "subject" "[*] *" { set :upper "l" "${1}"; fileinto "Lists.${l}"; stop; }
        if anyof (header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5", body :contains "budget") { addflag "\\\\Seen"; }
        if header :regex "subject" "^(M[a-z]+)" { addheader "X-M" "${1}"; }
        if date :index 1 :originalzone "date" "year" "2003" { vacation :days 1 text:
        away
        ..
        .
        ; }
        notify :message "${hex:41}" "mailto:a@example.org";
        """

    @Test func mutatedScriptsNeverCrash() throws {
        var g = SieveDifferentialLikeGenerator(state: 42)
        let bytes = Array(Self.base.utf8)
        let alphabet = Array("\"{}[]();,:*?\\$#/ \n.atext".utf8)
        var compiled = 0, refused = 0
        for _ in 0..<3000 {
            var b = bytes
            for _ in 0..<(1 + g.next() % 3) {
                let i = Int(g.next() % UInt64(b.count))
                switch g.next() % 3 {
                case 0: b.remove(at: i)
                case 1: b.insert(alphabet[Int(g.next() % UInt64(alphabet.count))], at: i)
                default: b.swapAt(i, Int(g.next() % UInt64(b.count)))
                }
            }
            do {
                let program = try SieveLoader.compile(b, name: "m", includes: .init(personal: nil, global: nil))
                compiled += 1
                let m = try Message.parse(Spool(bytes: Array(SieveRun.message.utf8)))
                _ = try? SieveInterpreter(program: program, message: m, environment: SieveRun.environment()).run()
            } catch is SieveError {
                refused += 1
            }
        }
        #expect(compiled + refused == 3000)
        #expect(compiled > 100 && refused > 100, "compiled \(compiled), refused \(refused)")
    }
}

struct SieveDifferentialLikeGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
}

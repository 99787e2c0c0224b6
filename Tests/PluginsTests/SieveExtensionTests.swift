#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline
@testable import Plugins

/// The extensions: each one's edge cases.
@Suite("Sieve extensions")
struct SieveExtensionTests {
    static func folders(_ script: String, message: String = SieveRun.message) throws -> [String] {
        SieveRun.folders(try SieveRun.run(script, message: message))
    }

    @Test func variablesMatchVariablesAndModifiers() throws {
        // RFC 5229 section 3.2's example: the first wildcard matches as little as it can.
        let r = try Self.folders("""
            require ["fileinto", "variables"];
            if header :matches "Subject" "[*] *" { fileinto "${1}.${2}"; }
            """)
        #expect(r == ["devel.Meeting tomorrow"])
        #expect(try Self.folders("""
            require ["fileinto", "variables"];
            set "a" "Hello"; set :upper "b" "${a}"; set :lowerfirst "c" "${b}"; set :length "d" "${a}";
            set :quotewildcard "e" "a*b?"; set :upperfirst :lower "f" "wORLD";
            fileinto "${b}.${c}.${d}.${e}.${f}.${undefined}.${A}";
            """) == ["HELLO.hELLO.5.a\\*b\\?.World..Hello"])
        #expect(SieveRun.compileError("require \"variables\"; set :lower :upper \"a\" \"b\";") != nil)
        #expect(SieveRun.compileError("require \"variables\"; set \"a-b\" \"c\";") != nil)
        // A failed match leaves the match variables as they were.
        #expect(try Self.folders("""
            require ["fileinto", "variables"];
            if header :matches "subject" "*]*" { }
            if header :matches "subject" "nomatch*" { }
            fileinto "x${1}";
            """) == ["x[devel"])
        #expect(try Self.folders("""
            require ["fileinto", "variables", "relational", "comparator-i;ascii-numeric"];
            if string :is "${nothing}" "" { fileinto "empty"; }
            if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2" { fileinto "two"; }
            """) == ["empty", "two"])
    }

    @Test func encodedCharacter() throws {
        #expect(try Self.folders("require [\"fileinto\", \"encoded-character\"]; fileinto \"${hex:48 69}${unicode:263a}\";") == ["Hi\u{263A}"])
        #expect(try Self.folders("require [\"fileinto\", \"encoded-character\"]; fileinto \"${hex:zz}\";") == ["${hex:zz}"])
        #expect(try Self.folders("require \"fileinto\"; fileinto \"${hex:48}\";") == ["${hex:48}"])
    }

    @Test func imap4flags() throws {
        let r = try SieveRun.run("""
            require ["imap4flags", "fileinto", "variables"];
            setflag "\\\\Seen work"; addflag ["Work", "\\\\SEEN", "x"]; removeflag "x";
            fileinto "A";
            addflag "v" "one two"; fileinto :flags "${v}" "B";
            if hasflag :contains "work" { addflag "\\\\Flagged"; }
            if hasflag "v" "two" { fileinto "C"; }
            """)
        #expect(r.actions == [.store(folder: "A", flags: ["\\seen", "work"], copy: false, create: false),
                              .store(folder: "B", flags: ["one", "two"], copy: false, create: false),
                              .store(folder: "C", flags: ["\\seen", "work", "\\flagged"], copy: false, create: false)])
        #expect(SieveFlags.ordered(["x", "\\seen", "\\answered"]) == ["\\answered", "\\seen", "x"])
        #expect(SieveFlags.storable(["\\seen", "\\bogus", "ok", "bad(", ""]) == ["\\seen", "ok"])
    }

    @Test func bodyRelationalAndRegex() throws {
        let multipart = "From: a@b.example\nSubject: invoice 12345\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nPlease pay.\n--B\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n"
        #expect(try Self.folders("""
            require ["fileinto", "body"];
            if body :contains "budget" { fileinto "text"; }
            if body :raw :contains "Hello Bob" { fileinto "raw"; }
            if body :content "text/plain" :contains "nothing" { fileinto "no"; }
            """) == ["text", "raw"])
        #expect(try Self.folders("""
            require ["fileinto", "body"];
            if body :content "application/pdf" :contains "%PDF" { fileinto "pdf"; }
            if body :text :contains "pay" { fileinto "pay"; }
            """, message: multipart) == ["pdf", "pay"])
        #expect(try Self.folders("""
            require ["fileinto", "relational", "comparator-i;ascii-numeric"];
            if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "spam"; }
            if header :count "eq" :comparator "i;ascii-numeric" "received" "2" { fileinto "two"; }
            if address :count "ge" :comparator "i;ascii-numeric" "to" "3" { fileinto "many"; }
            if header :value "lt" "subject" "[e" { fileinto "lt"; }
            """) == ["spam", "two", "lt"])
        #expect(SieveMatch.order(Array("10".utf8), Array("9".utf8), .asciiNumeric) > 0)
        #expect(SieveMatch.order(Array("abc".utf8), Array("9".utf8), .asciiNumeric) > 0, "no digits is positive infinity")
        #expect(SieveRun.compileError("require [\"relational\"]; if header :value \"xx\" \"a\" \"b\" { keep; }") != nil)
        #expect(SieveRun.compileError("require \"comparator-i;ascii-numeric\"; if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" { keep; }") != nil)
        #expect(try Self.folders("""
            require ["fileinto", "regex", "variables"];
            if header :regex "subject" "^\\\\[([a-z]+)\\\\] (M[a-z]+)" { fileinto "${1}-${2}"; }
            """) == ["devel-Meeting"])
        #expect(SieveRun.compileError("require \"regex\"; if header :regex \"subject\" \"(\" { keep; }")?.message.contains("invalid regular expression") == true)
    }

    @Test func copyAndMailbox() throws {
        let r = try SieveRun.run("""
            require ["fileinto", "copy", "mailbox"];
            fileinto :copy :create "Archive";
            redirect :copy "x@example.net";
            if mailboxexists "INBOX" { fileinto "yes"; }
            if mailboxexists "Nothere" { fileinto "no"; }
            """)
        #expect(r.implicitKeep == false)
        #expect(r.actions == [.store(folder: "Archive", flags: [], copy: true, create: true),
                              .redirect(to: "x@example.net", copy: true),
                              .store(folder: "yes", flags: [], copy: false, create: false)])
        #expect(try SieveRun.run("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";").implicitKeep)
        #expect(SieveRun.compileError("require \"fileinto\"; fileinto :copy \"A\";") != nil)
    }

    @Test func editheaderIsSeenByLaterTests() throws {
        let r = try SieveRun.run("""
            require ["editheader", "fileinto"];
            addheader "X-Tag" "one";
            addheader :last "X-Tag" "Grüße";
            deleteheader :index 1 :last "received";
            deleteheader :matches "subject" "*devel*";
            deleteheader "Received";
            if header :is "x-tag" "one" { fileinto "added"; }
            if not exists "subject" { fileinto "deleted"; }
            """)
        #expect(SieveRun.folders(r) == ["added", "deleted"])
        let h = try #require(r.editedHeader)
        #expect(h.fields.first?.name == "X-Tag")
        #expect(h.all("x-tag").count == 2)
        #expect(EncodedWord.decode(h.all("x-tag")[1]) == "Grüße")
        #expect(h.all("received").count == 2, "Received is protected")
        #expect(!h.contains("subject"))
        #expect(SieveRun.compileError("require \"editheader\"; addheader \"bad:name\" \"x\";") != nil)
    }

    @Test func dateAndIndex() throws {
        #expect(try Self.folders("""
            require ["fileinto", "date", "index", "relational"];
            if date :originalzone "date" "date" "2003-07-01" { fileinto "day"; }
            if date :zone "+0000" "date" "time" "08:52:37" { fileinto "utc"; }
            if date :originalzone "date" "weekday" "2" { fileinto "tuesday"; }
            if date :originalzone "date" "zone" "+0200" { fileinto "zone"; }
            if date :originalzone "date" "julian" "52821" { fileinto "julian"; }
            if date :originalzone "date" "std11" "Tue, 1 Jul 2003 10:52:37 +0200" { fileinto "std11"; }
            if header :index 2 :contains "received" "c.example" { fileinto "second"; }
            if header :index 1 :last :contains "received" "c.example" { fileinto "last"; }
            if currentdate :zone "+0000" :value "ge" "year" "2023" { fileinto "now"; }
            """) == ["day", "utc", "tuesday", "zone", "julian", "std11", "second", "last", "now"])
        #expect(SieveDates.parse("1 Jul 03 10:52 GMT")?.epoch == 1_057_056_720)
        #expect(SieveDates.parse("not a date") == nil)
        #expect(SieveDates.parse("1 Jan 999999999999999999 00:00 +0000") == nil, "a year past 9999 is refused, not overflowed")
        #expect(SieveDates.parse("31 Dec 9999 23:59:59 -2359").map { SieveDates.part("year", of: $0) } == "9999")
        #expect(SieveRun.compileError("require \"date\"; if date :zone \"CET\" \"date\" \"year\" \"2003\" { keep; }") != nil)
    }

    @Test func duplicateTracksByMessageID() throws {
        let store = TempDir()
        let s = SieveResponseStore(path: store.path + "/responses")
        var env = SieveRun.environment()
        env.duplicateSeen = { s.contains($0, now: 1_700_000_000) }
        let script = "require \"duplicate\"; if duplicate { discard; }"
        let first = try SieveRun.run(script, environment: env)
        #expect(first.implicitKeep)
        guard case .trackDuplicate(let key, let seconds)? = first.actions.first else { Issue.record("no track action"); return }
        try s.record(key, seconds: seconds, now: 1_700_000_000)
        #expect(!(try SieveRun.run(script, environment: env).implicitKeep))
        // Another handle is another list of seen messages.
        #expect(try SieveRun.run("require \"duplicate\"; if duplicate :handle \"x\" { discard; }", environment: env).implicitKeep)
    }

    @Test func enotifyMailto() throws {
        let r = try SieveRun.run("""
            require ["enotify", "variables"];
            if valid_notify_method "mailto:alice@example.org" { notify :importance "1" :message "hi" "mailto:alice@example.org?subject=x"; }
            if not valid_notify_method "mailto:not an address" { notify "mailto:carol@example.net"; }
            """)
        #expect(r.actions.count == 2)
        if case .notify(let n) = r.actions[0] { #expect(n.recipients == ["alice@example.org"]); #expect(n.importance == 1) }
        #expect(SieveRun.compileError("require \"enotify\"; notify \"xmpp:a@b\";") != nil)
        #expect(SieveRun.compileError("require \"enotify\"; notify :importance \"7\" \"mailto:a@b.example\";") != nil)
    }

    @Test func includePersonalGlobalOnceAndDepth() throws {
        let dir = TempDir()
        let personal = dir.path + "/personal", global = dir.path + "/global"
        mkdir(personal, 0o755)
        mkdir(global, 0o755)
        func write(_ path: String, _ text: String) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { close(fd) }
            try Posix.writeAll(fd, Array(text.utf8), path: path)
        }
        try write(personal + "/lists.sieve", "require [\"fileinto\", \"include\", \"variables\"]; global \"tag\"; fileinto \"Lists.${tag}\"; return; fileinto \"never\";")
        try write(global + "/spam.sieve", "require \"fileinto\"; if header :contains \"x-spam-score\" \"7\" { fileinto \"Junk\"; }")
        try write(personal + "/loop.sieve", "require \"include\"; include \"loop\";")
        let locations = SieveIncludeLocations(personal: personal, global: global)
        let r = try SieveRun.run("""
            require ["include", "variables"];
            global "tag";
            set "tag" "devel";
            include :personal "lists";
            include :once "lists";
            include :once "lists";
            include :global "spam";
            include :optional "missing";
            """, includes: locations)
        #expect(SieveRun.folders(r) == ["Lists.devel", "Junk"])
        #expect(throws: SieveRuntimeError.self) { _ = try SieveRun.run("require \"include\"; include \"loop\";", includes: locations) }
        #expect(throws: SieveError.self) { _ = try SieveRun.program("require \"include\"; include \"missing\";", includes: locations) }
        #expect(SieveRun.compileError("require \"include\"; include \"../etc/x\";") != nil)
    }
}

import Testing
@testable import Plugins

/// procmail's egrep dialect in PCRE2: what procmail itself answered on the same text
/// (checked against Debian's procmail 3.23pre when these were written).
@Suite("procmail regular expressions")
struct ProcmailRegexTests {
    let header = Array("Subject: test me\nFrom: alice abc@b.org\nX-Long: foo  bar baz\nTo: Bob <bob@x.org>\n\n".utf8)

    func match(_ re: String, _ text: [UInt8]? = nil, caseSensitive: Bool = false) throws -> (Bool, String?) {
        let r = try ProcmailRegex(re, caseSensitive: caseSensitive).search(text ?? header)
        return (r.matched, r.match.map { String(decoding: $0, as: UTF8.self) })
    }

    @Test func dollarMatchesTheNewlineAndGoesIntoMatch() throws {
        #expect(try match(#"^Subject:\/.*$"#).1 == " test me\n")
        #expect(try match(#"^Subject:\/.*$."#).1 == " test me\nF")
    }

    @Test func theLeftOfTheCaptureMatchesAsLittleAsPossible() throws {
        #expect(try match(#"^From:.*\/[a-z]+@"#).1 == "abc@")
        #expect(try match(#"^From: *\/[^ ].*"#).1 == "alice abc@b.org")
        #expect(try match(#"^X-Long: .*\/bar.*"#).1 == "bar baz")
    }

    @Test func caseAndDot() throws {
        #expect(try match("^subject: TEST").0)
        #expect(try !match("^subject: TEST", caseSensitive: true).0)
        #expect(try !match("me.From").0, ". never matches a newline")
    }

    @Test func anchorsAtTheEdgesOfTheText() throws {
        #expect(try match("^^Subject").0)
        #expect(try !match("^^From").0)
        #expect(try match("org>\n\n^^").0)
    }

    @Test func bracesAndOtherEscapesAreLiteral() throws {
        let text = Array("a{2} b.c d\\e\n".utf8)
        #expect(try match("a{2}", text).0)
        #expect(try !match("a{2}", Array("aa\n".utf8)).0)
        #expect(try match(#"b\.c"#, text).0)
        #expect(try !match(#"b\.c"#, Array("bxc\n".utf8)).0)
        #expect(try match(#"\<d"#, text).0)
    }

    @Test func macros() throws {
        #expect(try match(#"^TO_bob@x\.org"#).0)
        #expect(try match("^TObob").0)
        #expect(try !match("^TO_alice").0)
        #expect(try match("^FROM_DAEMON", Array("From: Mail Delivery System <MAILER-DAEMON@x.org>\n\n".utf8)).0)
        #expect(try match("^FROM_MAILER", Array("From: Mail Delivery System <MAILER-DAEMON@x.org>\n\n".utf8)).0)
        #expect(try match("^FROM_DAEMON", Array("Precedence: bulk\n\n".utf8)).0)
        #expect(try !match("^FROM_MAILER", Array("Precedence: bulk\n\n".utf8)).0)
        #expect(try !match("^FROM_DAEMON", Array("From: alice@example.org\n\n".utf8)).0)
    }

    @Test func weightedCounts() throws {
        #expect(try ProcmailRegex("o", caseSensitive: false).count(in: header, limit: 100) == 9)
        #expect(try ProcmailRegex("o", caseSensitive: false).count(in: header, limit: 3) == 3)
    }

    @Test func badExpressionsAreReported() {
        #expect(throws: ProcmailRegexError.self) { try ProcmailRegex("(unclosed", caseSensitive: false) }
    }
}

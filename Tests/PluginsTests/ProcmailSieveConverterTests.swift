import Testing
@testable import Plugins

@Suite("procmailrc to Sieve")
struct ProcmailSieveConverterTests {
    func convert(_ text: String) throws -> (String, [String]) {
        let (script, skipped) = ProcmailSieveConverter.convert(try ProcmailParser.parse(Array(text.utf8), file: "rc"))
        return (script, skipped.map(\.description))
    }

    @Test func foldersForwardsAndDiscards() throws {
        let (script, skipped) = try convert("""
            MAILDIR=/home/bob/Mail
            DEFAULT=$MAILDIR/inbox
            :0:
            * ^Subject:.*(lunch|report)
            matched
            :0 c
            * ^(From|Sender): *alice
            /home/bob/Mail/alice/
            :0 D
            * ! ^X-Spam: YES
            * > 1000
            ! big@example.org
            :0
            /dev/null
            """)
        #expect(skipped.isEmpty)
        #expect(script.contains(#"require ["copy", "fileinto", "regex"];"#))
        #expect(script.contains("if header :regex \"Subject\" \"^.*(lunch|report)\" {\n    fileinto \"matched\";\n    stop;\n}"))
        #expect(script.contains("if header :regex [\"From\", \"Sender\"] \"^alice\" {\n    fileinto :copy \"alice\";\n}"))
        #expect(script.contains("if allof(not header :regex :comparator \"i;octet\" \"X-Spam\" \"^YES\", size :over 1000) {\n    redirect \"big@example.org\";\n    stop;\n}"))
        #expect(script.contains("if true {\n    discard;\n    stop;\n}"))
    }

    @Test func whatCannotBeConvertedIsListedWithTheReason() throws {
        let (script, skipped) = try convert("""
            X=1
            :0
            * 2^1 money
            a
            :0 fw
            | sed s/a/b/
            :0
            * ^From:.*\\/[a-z]+@
            by-$MATCH
            :0 B
            * body
            b
            :0 E
            c
            :0
            /elsewhere/box
            """)
        #expect(skipped == [
            "rc, line 1: not converted: the assignment X=… has no Sieve equivalent",
            "rc, line 3: not converted: weighted conditions (w^x) have no Sieve equivalent",
            "rc, line 5: not converted: filters (f) change the message; Sieve cannot run commands",
            "rc, line 8: not converted: MATCH (\\/) has no Sieve equivalent",
            "rc, line 10: not converted: body conditions (B) match differently in Sieve's body test",
            "rc, line 13: not converted: the A, a, E and e flags depend on earlier recipes' outcomes",
            "rc, line 15: not converted: the folder /elsewhere/box is not a mailbox under MAILDIR (or uses variables)",
        ])
        #expect(!script.contains("if "))
    }
}

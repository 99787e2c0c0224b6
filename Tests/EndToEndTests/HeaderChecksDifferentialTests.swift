import Foundation
import Testing

/// header_checks, mime_header_checks, nested_header_checks and body_checks: every action, the
/// same pcre: tables in Postfix's cleanup(8) and in mdad's rewrite stage, outcomes compared
/// (delivered with which headers, or rejected with which text, discarded, held).
@Suite("header_checks differential against Postfix", .serialized)
struct HeaderChecksDifferentialTests {
    static let tables = [
        "header_checks": """
            /^Subject: reject me/            REJECT no thanks
            /^Subject: reject plain/         REJECT
            /^Subject: reject later/         REJECT 4.7.0 try later
            /^Subject: discard me/           DISCARD gone
            /^Subject: hold me/              HOLD held here
            /^X-Drop:/                       IGNORE
            /^X-Replace: (.*)/               REPLACE X-Replaced: $1
            /^X-Prepend:/                    PREPEND X-Added: yes
            /^X-Warn:/                       WARN looked at
            /^X-Info:/                       INFO noted
            /^X-Dunno:/                      DUNNO
            /^X-Ok:/                         OK
            /^X-Folded: one\\n\\ttwo/         REPLACE X-Folded: matched as one line
            /^Content-Type: application\\/x-bad/  REJECT bad MIME type
            /^X-Nested: bad/                 REJECT nested header
            /^To: .*replace-to/              REPLACE To: replaced, other@host
            /^Subject: bad prepend/          PREPEND not a header
            /^Content-Description: drop/     IGNORE
            /^Content-Description: old/      REPLACE Content-Description: new
            /^X-Inner: x/                    PREPEND X-Inner-Added: yes

            """,
        "body_checks": """
            /^reject this body line/         REJECT body says no
            /^discard this body/             DISCARD
            /^warn body/                     WARN body warning
            /^replace body/                  REPLACE replaced body line
            /^ignore body/                   IGNORE
            /^prepend body/                  PREPEND prepended line

            """,
    ]

    static func simple(_ name: String, _ headers: String, body: String = "body line\n") -> RewriteCase {
        RewriteCase(name: name, sender: "s@example.org", recipients: ["r@example.org"],
                    headers: "From: s@example.org\nTo: r@example.org\n" + headers + "\n", body: body)
    }

    static let cases: [RewriteCase] = [
        simple("REJECT with text", "Subject: reject me\n"),
        simple("REJECT without text", "Subject: reject plain\n"),
        simple("REJECT with a 4.x.x code", "Subject: reject later\n"),
        simple("DISCARD", "Subject: discard me\n"),
        simple("HOLD", "Subject: hold me\n"),
        simple("IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO, OK", """
            Subject: modifications
            X-Drop: this goes
            X-Replace: old value
            X-Prepend: here
            X-Warn: w
            X-Info: i
            X-Dunno: d
            X-Ok: o

            """),
        simple("multi-line header matched as one line", "Subject: folded\nX-Folded: one\n\ttwo\n"),
        simple("REPLACE result is rewritten as an address header", "Subject: replaced to\nCc: replace-to\n"
               .replacingOccurrences(of: "Cc:", with: "X-Unused: x\nTo:")),
        simple("bad PREPEND text", "Subject: bad prepend\n"),
        simple("mime_header_checks on a body part", """
            Subject: mime
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b1"

            """, body: "--b1\nContent-Type: text/plain\n\nhello\n--b1\nContent-Type: application/x-bad\n\nxx\n--b1--\n"),
        simple("nested_header_checks on an attached message", """
            Subject: nested
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b1"

            """, body: "--b1\nContent-Type: text/plain\n\nhello\n--b1\nContent-Type: message/rfc822\n\nFrom: x@example.org\nX-Nested: bad\nSubject: inner\n\ninner body\n--b1--\n"),
        simple("body REJECT", "Subject: body\n", body: "first line\nreject this body line please\n"),
        simple("body DISCARD", "Subject: body 2\n", body: "discard this body\n"),
        simple("body WARN", "Subject: body 3\n", body: "warn body\nsecond\n"),
        simple("body REPLACE", "Subject: body 4\n", body: "replace body\n"),
        simple("body IGNORE and PREPEND", "Subject: body 5\n", body: "keep\nignore body\nprepend body\nlast\n"),
        simple("IGNORE, REPLACE, PREPEND on part headers", """
            Subject: part headers
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b1"

            """, body: "--b1\nContent-Type: text/plain\nContent-Description: drop me\n\nhello\nignore body\n--b1\nContent-Type: text/plain\nContent-Description: old\n\nreplace body\n--b1\nContent-Type: message/rfc822\n\nFrom: x@example.org\nX-Inner: x\n\ninner\n--b1--\n"),
        simple("nothing matches", "Subject: clean\nX-Other: fine\n"),
    ]

    @Test func everyAction() async throws {
        let r = try await runRewriteDifferential("header_checks and body_checks", settings: """
            myhostname = mx.example.test
            mydomain = example.test
            myorigin = example.test
            mydestination = mx.example.test
            header_checks = pcre:TABLES/header_checks
            body_checks = pcre:TABLES/body_checks
            """, tables: Self.tables, Self.cases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }
}

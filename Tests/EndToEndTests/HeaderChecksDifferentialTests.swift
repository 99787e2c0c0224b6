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
        let r = try await runRewriteDifferential("header_checks and body_checks", settings: judgeIdentity + """

            header_checks = pcre:TABLES/header_checks
            body_checks = pcre:TABLES/body_checks
            """, tables: Self.tables, Self.cases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    /// Separate tables for MIME and nested headers, and a body_checks_size_limit: which table
    /// sees which header, and where body inspection stops.
    @Test func separateTablesAndTheBodySizeLimit() async throws {
        let tables = [
            "hc": "/^X-Top: bad/ REJECT top header\n/^Content-Type: text\\/html/ REJECT html seen by header_checks\n/^X-Inner: bad/ REJECT inner seen by header_checks\n",
            "mime": "/^Content-Type: text\\/html/ REJECT html seen by mime_header_checks\n/^X-Part: bad/ REJECT part header seen by mime_header_checks\n",
            "nested": "/^X-Inner: bad/ REJECT inner seen by nested_header_checks\n/^Content-Type: text\\/html/ REJECT html seen by nested_header_checks\n",
            "body": "/^late line$/ REJECT late line seen\n/^early line$/ WARN early\n",
        ]
        let filler = String(repeating: "filler filler filler filler filler\n", count: 10)   // 350 bytes
        let cases = [
            Self.simple("top-level MIME header goes to mime_header_checks", "Subject: a\nMIME-Version: 1.0\nContent-Type: text/html\n"),
            Self.simple("top-level other header goes to header_checks", "Subject: b\nX-Top: bad\n"),
            Self.simple("part header goes to mime_header_checks", """
                Subject: c
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="b1"

                """, body: "--b1\nContent-Type: text/plain\nX-Part: bad\n\nhello\n--b1--\n"),
            Self.simple("attached message header goes to nested_header_checks", """
                Subject: d
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="b1"

                """, body: "--b1\nContent-Type: message/rfc822\n\nFrom: x@example.org\nX-Inner: bad\n\ninner\n--b1--\n"),
            Self.simple("attached message MIME header goes to mime_header_checks", """
                Subject: e
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="b1"

                """, body: "--b1\nContent-Type: message/rfc822\n\nFrom: x@example.org\nContent-Type: text/html\n\ninner\n--b1--\n"),
            Self.simple("a line within body_checks_size_limit", "Subject: f\n", body: "early line\nlate line\n"),
            Self.simple("a line past body_checks_size_limit", "Subject: g\n", body: "early line\n" + filler + "late line\n"),
        ]
        let r = try await runRewriteDifferential("mime/nested tables, body_checks_size_limit", settings: judgeIdentity + """

            header_checks = pcre:TABLES/hc
            mime_header_checks = pcre:TABLES/mime
            nested_header_checks = pcre:TABLES/nested
            body_checks = pcre:TABLES/body
            body_checks_size_limit = 200
            """, tables: tables, cases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }
}

import Testing
@testable import Pipeline

let htmlFixtures: [(String, String, [String])] = [
    ("<p>Hello <b>world</b></p><p>second</p>", "Hello world\nsecond", []),
    ("a<br>b<br/>c", "a\nb\nc", []),
    ("<a href=\"http://example.com/x?a=1&amp;b=2\">click</a>", "click", ["http://example.com/x?a=1&b=2"]),
    ("<A HREF='https://x.example/'>x</A> <img src=http://img.example/p.gif>", "x", ["https://x.example/", "http://img.example/p.gif"]),
    ("<style>p { color: red }</style><script>alert(1)</script>visible", "visible", []),
    ("<!-- hidden <b>comment</b> -->shown", "shown", []),
    ("caf&eacute; &amp; &#233;&#xE9; &lt;tag&gt; &nbsp;x &unknown;", "café & éé <tag> \u{A0}x &unknown;", []),
    ("  lots \n\n of   space  ", "lots of space", []),
    ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3", []),
    ("<form action=\"http://phish.example/login\"><input></form>", "", ["http://phish.example/login"]),
]

@Suite("text views")
struct TextViewsTests {
    @Test(arguments: htmlFixtures)
    func htmlToText(_ html: String, _ text: String, _ links: [String]) {
        let r = HTMLText.convert(html)
        #expect(r.text == text)
        #expect(r.links == links)
    }

    @Test func unclosedTagsAreLinear() {
        let r = HTMLText.convert(String(repeating: "<", count: 200_000))
        #expect(r.text.count == 200_000)
    }

    @Test(arguments: [
        ("see http://example.com/a, and https://b.example/c.", ["http://example.com/a", "https://b.example/c"]),
        ("visit www.example.org today", ["www.example.org"]),
        ("mail mailto:x@example.com or HTTP://UPPER.example", ["mailto:x@example.com", "HTTP://UPPER.example"]),
        ("(http://paren.example/x)", ["http://paren.example/x"]),
        ("no links here, http:// alone", []),
    ])
    func uris(_ text: String, _ expected: [String]) {
        #expect(URIScanner.scan(text) == expected)
    }

    @Test func messageViews() throws {
        let m = try Message.literal("""
            Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: multipart/alternative; boundary=a

            --a
            Content-Type: text/plain; charset=iso-8859-1
            Content-Transfer-Encoding: quoted-printable

            Gr=FC=DFe, see http://plain.example/
            --a
            Content-Type: text/html; charset=utf-8

            <p>Gr&uuml;&szlig;e <a href="http://html.example/">here</a></p>
            --a--
            --b
            Content-Type: text/plain; name=notes.txt
            Content-Disposition: attachment; filename=notes.txt

            attached http://attached.example/
            --b
            Content-Type: image/png
            Content-Transfer-Encoding: base64

            iVBORw0KGgo=
            --b--

            """)
        let s = try MIMEStructure.parse(m)
        let v = try MessageText(message: m, structure: s)
        #expect(v.body == "Grüße, see http://plain.example/\nGrüße here")
        #expect(v.uris == ["http://plain.example/", "http://html.example/"])
        #expect(String(decoding: v.rawBody.prefix(3), as: UTF8.self) == "--b")
        #expect(!v.truncated)
        #expect(MessageText.decodedHeader("Subject", in: m.header) == ["Grüße"])
        #expect(s.leaves.map(\.filename) == [nil, nil, "notes.txt", nil])
        #expect(s.leaves.map(\.isAttachment) == [false, false, true, false])
    }

    @Test func textSizeLimit() throws {
        let m = try Message.literal("Subject: x\n\n" + String(repeating: "abcdefgh\n", count: 1000))
        let v = try MessageText(message: m, structure: try MIMEStructure.parse(m), limits: .init(textSize: 100, uriCount: 10))
        let (body, raw, truncated) = (v.body.utf8.count, v.rawBody.count, v.truncated)
        #expect(body == 100)
        #expect(raw == 100)
        #expect(truncated)
    }

    @Test func uriCountLimit() throws {
        let m = try Message.literal("Subject: x\n\n" + (0..<5000).map { "http://h\($0).example/ " }.joined())
        let v = try MessageText(message: m, structure: try MIMEStructure.parse(m), limits: .init(textSize: 1 << 20, uriCount: 50))
        let (count, truncated) = (v.uris.count, v.truncated)
        #expect(count == 50)
        #expect(truncated)
    }
}

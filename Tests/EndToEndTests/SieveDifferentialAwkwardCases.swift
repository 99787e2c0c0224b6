/// The third generator: messages whose headers are awkward (groups, unparsable addresses,
/// empty and repeated fields, folding, raw 8-bit and ISO-8859-1 words, CRLF, quoted-printable
/// HTML), tested by header, address, exists and body tests.
extension SieveDifferentialTests {
    static let awkwardMessages: [String] = [
        "From: \"Last, First\" <First.Last@Example.COM>\nTo: friends: a@x.org, B@Y.org;\nCc: undisclosed-recipients:;\nSubject:\nSubject: second subject\nMessage-ID: <a1@x>\n\nbody one\n",
        "From: not an address\nTo: <@route.example:user@target.example>\nReply-To: alice@\nSubject: =?ISO-8859-1?Q?caf=E9_cr=E8me?=\n\nbody two\n",
        "From: a@x.org\nTo: bob@example.com\nSubject: a long subject\n  folded onto the next line\nX-Empty:\nX-Dup: one\nX-Dup: two\nX-Dup: three\n\nbody three\n",
        "From: Jörg <joerg@example.de>\nTo: bob@example.com\nSubject: Grüße, raw UTF-8 in the header\n\nbody four\n",
        "From: crlf@example.org\r\nTo: bob@example.com\r\nSubject: CRLF message\r\n\r\nline one\r\nline two\r\n",
        "From: html@example.org\nTo: bob@example.com\nSubject: html\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nprice =3D 10 =E2=82=AC and a soft=\n break\n--b\nContent-Type: text/html\n\n<p>Hello <b>bold</b> world</p>\n--b--\n",
    ]

    static let awkwardSenders = ["First.Last@Example.COM", "someone@example.net", "a@x.org", "joerg@example.de",
                                 "crlf@example.org", "html@example.org"]

    static func awkwardTest(_ g: inout Generator) -> String {
        let mt = g.pick([":is", ":contains", ":matches"])
        switch g.next() % 14 {
        case 0: return "header \(mt) \"subject\" \"\(g.pick(["", "second subject", "*", "?*", "caf\u{E9}*", "*folded onto*", "a long subject folded onto the next line"]))\""
        case 1: return "header :count \"\(g.pick(["eq", "ge"]))\" :comparator \"i;ascii-numeric\" \"\(g.pick(["subject", "x-dup", "x-empty", "to"]))\" \"\(g.pick(["0", "1", "2", "3"]))\""
        case 2: return "address \(g.pick([":all", ":localpart", ":domain"])) \(mt) \"\(g.pick(["to", "from", "cc", "reply-to"]))\" \"\(g.pick(["a@x.org", "b@y.org", "x.org", "*", "user@target.example", "first.last", "example.com", "not an address", ""]))\""
        case 3: return "address :count \"\(g.pick(["eq", "ge"]))\" :comparator \"i;ascii-numeric\" \"\(g.pick(["to", "cc", "from"]))\" \"\(g.pick(["0", "1", "2"]))\""
        case 4: return "exists \"\(g.pick(["subject", "x-empty", "cc", "reply-to"]))\""
        case 5: return "header :is \"x-empty\" \"\""
        case 6: return "header :matches :comparator \"i;octet\" \"subject\" \"\(g.pick(["Gr\u{FC}*", "gr\u{FC}*", "Gr??e*", "CAF\u{C9}*"]))\""
        case 7: return "body \(g.pick([":text", ":raw"])) :contains \"\(g.pick(["price = 10", "=3D", "soft break", "bold", "<b>", "line two", "body"]))\""
        case 8: return "header :index \(g.pick(["1", "2", "3"])) \(g.pick(["", ":last "])):is \"x-dup\" \"\(g.pick(["one", "two", "three"]))\""
        case 9: return "header \(mt) \"from\" \"\(g.pick(["*Last, First*", "J\u{F6}rg*", "not an address", "*@*"]))\""
        case 10: return "envelope \(g.pick([":all", ":domain", ":localpart"])) :is \"from\" \"\(g.pick(["first.last@example.com", "Example.COM", "crlf", "someone"]))\""
        case 11: return "body :content \"\(g.pick(["text/html", "text/plain", "text"]))\" :contains \"\(g.pick(["Hello", "bold", "price", "\u{20AC}"]))\""
        case 12: return "size \(g.pick([":over", ":under"])) \(g.pick(["60", "90", "120", "200", "400"]))"
        default: return "header :contains \"subject\" \"\(g.pick(["cr\u{E8}me", "UTF-8", "next line", "CRLF"]))\""
        }
    }

    static func awkwardScript(_ g: inout Generator) -> String {
        var s = "require [\(capabilities.map { "\"\($0)\"" }.joined(separator: ", "))];\n"
        for i in 0..<(1 + Int(g.next() % 4)) {
            s += "if \(awkwardTest(&g)) {\n  fileinto \"T\(i)\";\n}\n"
            if g.chance(30) { s += "if header :matches \"subject\" \"*\" { fileinto \"S.${1}\"; }\n" }
        }
        return s
    }
}

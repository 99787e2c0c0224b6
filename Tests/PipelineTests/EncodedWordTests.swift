import Testing
@testable import Pipeline

/// RFC 2047 fixtures: raw header text and the decoded value (the RFC's own section 8 examples
/// first).
let encodedWordFixtures: [(String, String)] = [
    ("(=?ISO-8859-1?Q?a?=)", "(a)"),
    ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
    ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
    ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
    ("(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)", "(ab)"),
    ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
    ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
    ("=?utf-8?B?SGFsbMO2IFfDtnJsZA==?=", "Hallö Wörld"),
    ("=?UTF-8?q?caf=C3=A9?= au lait", "café au lait"),
    ("Re: =?koi8-r?B?8NLJ18XU?=", "Re: Привет"),
    ("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語"),
    ("=?shift_jis?B?k/qWe4zq?=", "日本語"),
    ("=?gb2312?B?1tDOxA==?=", "中文"),
    ("=?big5?B?pKSk5Q==?=", "中文"),
    // A UTF-8 character split across two words comes out whole.
    ("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", "café"),
    ("=?utf-8?b?w6k=?==?utf-8?b?w6k=?=", "éé"),
    // Invalid words stay as they are.
    ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
    ("=?utf-8?q?no end", "=?utf-8?q?no end"),
    ("=??q?empty charset?=", "=??q?empty charset?="),
    ("=?utf-8?q?has space?=", "=?utf-8?q?has space?="),
    ("price =? not a word", "price =? not a word"),
    // Unknown charset: bytes decoded leniently.
    ("=?x-unknown-cs?q?caf=E9?=", "café"),
    // Text around words keeps its blanks; blanks between words vanish.
    ("Hello =?utf-8?q?W=C3=B6rld?= and =?utf-8?q?more?=", "Hello Wörld and more"),
    ("glued=?utf-8?q?X?=text", "gluedXtext"),
    // RFC 2231 language in the charset.
    ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
    // Raw 8-bit header text: UTF-8 when valid, else windows-1252.
    ("Gr\u{FC}\u{DF}e", "Grüße"),
]

@Suite("RFC 2047 encoded words")
struct EncodedWordTests {
    @Test(arguments: encodedWordFixtures)
    func decodes(_ input: String, _ expected: String) {
        #expect(EncodedWord.decode(input) == expected)
    }

    @Test func rawLatin1HeaderBytes() {
        #expect(EncodedWord.decode([0x47, 0x72, 0xFC, 0xDF, 0x65]) == "Grüße")
    }

    @Test func decodesAFoldedField() throws {
        let m = try Message.literal("Subject: =?utf-8?q?first?=\n =?utf-8?q?_second?=\n\tplain\n\nbody\n")
        #expect(EncodedWord.decode(m.header["Subject"]!) == "first second\tplain")
        #expect(MessageText.decodedHeader("subject", in: m.header) == ["first second\tplain"])
    }

    @Test func hostileHeaderIsLinear() {
        // 200,000 word starts that never finish: bounded look-ahead keeps this linear.
        let text = String(repeating: "=?utf-8?q?", count: 20_000)
        #expect(EncodedWord.decode(text) == text)
    }
}

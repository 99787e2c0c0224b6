import Testing
@testable import Pipeline

struct ContentTypeFixture: Sendable, CustomTestStringConvertible {
    let value: String
    let mimeType: String?
    let parameters: [String: String]
    var testDescription: String { value }
}

let contentTypeFixtures: [ContentTypeFixture] = [
    .init(value: "text/plain", mimeType: "text/plain", parameters: [:]),
    .init(value: "Text/HTML; Charset=\"UTF-8\"", mimeType: "text/html", parameters: ["charset": "UTF-8"]),
    .init(value: "multipart/mixed;\n boundary=\"----=_Part_1\"", mimeType: "multipart/mixed", parameters: ["boundary": "----=_Part_1"]),
    .init(value: "multipart/alternative; boundary=abc (a comment); foo=bar", mimeType: "multipart/alternative", parameters: ["boundary": "abc (a comment)", "foo": "bar"]),
    .init(value: "text/plain; charset=us-ascii (Plain text)", mimeType: "text/plain", parameters: ["charset": "us-ascii (Plain text)"]),
    .init(value: "text/plain; (comment) charset=utf-8", mimeType: "text/plain", parameters: ["charset": "utf-8"]),
    .init(value: "application/octet-stream; name=\"a \\\"quoted\\\" name.bin\"", mimeType: "application/octet-stream", parameters: ["name": "a \"quoted\" name.bin"]),
    // RFC 2231 section 3: continuations.
    .init(value: "message/external-body; access-type=URL;\n URL*0=\"ftp://\";\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
          mimeType: "message/external-body", parameters: ["access-type": "URL", "url": "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"]),
    // RFC 2231 section 4: charset and language.
    .init(value: "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
          mimeType: "application/x-stuff", parameters: ["title": "This is ***fun***"]),
    // RFC 2231 section 4.1: mixed continuations, some encoded.
    .init(value: "application/x-stuff;\n title*0*=us-ascii'en'This%20is%20even%20more%20;\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n title*2=\"isn't it!\"",
          mimeType: "application/x-stuff", parameters: ["title": "This is even more ***fun*** isn't it!"]),
    .init(value: "application/pdf; name*=UTF-8''%E2%82%AC%20Rechnung.pdf", mimeType: "application/pdf", parameters: ["name": "€ Rechnung.pdf"]),
    .init(value: "application/pdf; name*=iso-8859-1''K%F6ln.pdf", mimeType: "application/pdf", parameters: ["name": "Köln.pdf"]),
    // Continuations out of order.
    .init(value: "application/pdf; name*1=\"b\"; name*0=\"a\"", mimeType: "application/pdf", parameters: ["name": "ab"]),
    // Encoded words in a quoted name (not RFC 2231, but what Outlook sends).
    .init(value: "application/pdf; name=\"=?utf-8?B?w6kucGRm?=\"", mimeType: "application/pdf", parameters: ["name": "é.pdf"]),
    // Unquoted value with spaces.
    .init(value: "application/pdf; name=my file.pdf ;x=1", mimeType: "application/pdf", parameters: ["name": "my file.pdf", "x": "1"]),
    .init(value: "text", mimeType: nil, parameters: [:]),
    .init(value: "/plain", mimeType: nil, parameters: [:]),
    .init(value: "", mimeType: nil, parameters: [:]),
]

@Suite("content type")
struct ContentTypeTests {
    @Test(arguments: contentTypeFixtures)
    func parses(_ f: ContentTypeFixture) {
        let ct = ContentType.parse(f.value)
        #expect(ct?.mimeType == f.mimeType)
        for (k, v) in f.parameters { #expect(ct?.parameters[k] == v, "\(k)") }
        if let ct { #expect(ct.parameters.entries.count == f.parameters.count) }
    }

    @Test func boundaryKeepsCaseAndDropsTrailingBlanks() {
        #expect(ContentType.parse("multipart/mixed; boundary=\"AbC  \"")?.boundary == "AbC")
    }

    @Test func disposition() {
        let d = ContentDisposition.parse(Array("attachment;\n filename*0*=utf-8''%C3%A4;\n filename*1=\".txt\"".utf8)[...])
        #expect(d.isAttachment)
        #expect(d.filename == "ä.txt")
    }

    @Test func parameterCountIsBounded() {
        let value = "text/plain" + (0..<10_000).map { "; p\($0)=v" }.joined()
        let ct = ContentType.parse(value)
        #expect(ct?.parameters.entries.count == MIMEParameters.maxCount)
    }
}

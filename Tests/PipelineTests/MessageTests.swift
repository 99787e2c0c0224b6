import Testing
@testable import Pipeline

/// Table-driven splitter fixtures: input, the field names found, where the body starts, and the
/// separator. Every fixture must also come out byte for byte as it went in.
struct SplitFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let fields: [String]
    let body: String
    let separator: String
    var fromLine = false
    var truncated = false
    var testDescription: String { name }
}

let splitFixtures: [SplitFixture] = [
    .init(name: "LF", input: Array("A: 1\nB: 2\n\nbody\n".utf8), fields: ["A", "B"], body: "body\n", separator: "\n"),
    .init(name: "CRLF", input: Array("A: 1\r\nB: 2\r\n\r\nbody\r\n".utf8), fields: ["A", "B"], body: "body\r\n", separator: "\r\n"),
    .init(name: "folded", input: Array("A: 1\n  more\n\tand more\nB: 2\n\nx".utf8), fields: ["A", "B"], body: "x", separator: "\n"),
    .init(name: "duplicates", input: Array("R: 1\nR: 2\nr: 3\n\n".utf8), fields: ["R", "R", "r"], body: "", separator: "\n"),
    .init(name: "no body, no blank line", input: Array("A: 1\nB: 2\n".utf8), fields: ["A", "B"], body: "", separator: ""),
    .init(name: "no final newline", input: Array("A: 1\nB: 2".utf8), fields: ["A", "B"], body: "", separator: ""),
    .init(name: "no blank line before body", input: Array("A: 1\nnot a header\nmore\n".utf8), fields: ["A"], body: "not a header\nmore\n", separator: ""),
    .init(name: "body only", input: Array("just text\n".utf8), fields: [], body: "just text\n", separator: ""),
    .init(name: "continuation first", input: Array(" indented\nA: 1\n".utf8), fields: [], body: " indented\nA: 1\n", separator: ""),
    .init(name: "empty", input: [], fields: [], body: "", separator: ""),
    .init(name: "blank first line", input: Array("\nbody\n".utf8), fields: [], body: "body\n", separator: "\n"),
    .init(name: "mbox From_ line", input: Array("From a@b Tue Nov 24 10:00:00 2026\nA: 1\n\nFrom x\n".utf8), fields: ["A"], body: "From x\n", separator: "\n", fromLine: true),
    .init(name: "space before colon", input: Array("Subject : x\nX-Empty:\n\nb".utf8), fields: ["Subject", "X-Empty"], body: "b", separator: "\n"),
    .init(name: "8-bit and NUL", input: [0x41, 0x3A, 0x20, 0xE4, 0x00, 0x0A, 0x0A, 0xFF, 0x00, 0x0A], fields: ["A"], body: "\u{FFFD}\0\n", separator: "\n"),
    .init(name: "8-bit field name is body", input: Array("Sübject: x\n\nb\n".utf8), fields: [], body: "Sübject: x\n\nb\n", separator: ""),
    .init(name: "colon-less line ends header", input: Array("A: 1\nB\n\nb\n".utf8), fields: ["A"], body: "B\n\nb\n", separator: ""),
]

@Suite("message splitter")
struct MessageTests {
    @Test(arguments: splitFixtures)
    func split(_ f: SplitFixture) throws {
        let m = try Message.parse(Spool(bytes: f.input))
        #expect(m.header.fields.map(\.name) == f.fields)
        let body = try m.spool.read(offset: m.bodyOffset, count: m.bodySize)
        #expect(String(decoding: body, as: UTF8.self) == f.body)
        #expect(String(decoding: m.separator, as: UTF8.self) == f.separator)
        #expect((m.envelopeFromLine != nil) == f.fromLine)
        #expect(m.headerTruncated == f.truncated)
    }

    @Test(arguments: splitFixtures)
    func unchangedMessageRoundTrips(_ f: SplitFixture) throws {
        let m = try Message.parse(Spool(bytes: f.input))
        var sink = BufferSink()
        try m.write(to: &sink)
        var expected = f.input
        if let from = m.envelopeFromLine { expected.removeFirst(from.count) }
        if f.name == "no blank line before body" || f.name == "colon-less line ends header" {
            // Postfix's cleanup puts an empty line between header and body when there is none.
            let at = expected.count - m.bodySize
            expected.insert(10, at: at)
        }
        #expect(sink.bytes == expected)
    }

    @Test func headerLookupIsCaseInsensitiveAndKeepsBytes() throws {
        var m = try Message.literal("SUBJECT:  Hi  there \r\n X\r\nreceived: a\r\nReceived: b\r\n\r\nbody")
        #expect(m.header["subject"]?.value == "Hi  there  X")
        #expect(m.header.all("RECEIVED").map(\.value) == ["a", "b"])
        #expect(m.header["Subject"]?.raw == Array("SUBJECT:  Hi  there \r\n X\r\n".utf8))
        m.header.prepend(try HeaderField(name: "X-Added", value: "yes"))
        #expect(m.header.removeAll("received") == 2)
        var sink = BufferSink()
        try m.write(to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "X-Added: yes\nSUBJECT:  Hi  there \r\n X\r\n\r\nbody")
    }

    @Test func headerValuesCannotInjectHeaders() {
        #expect(throws: HeaderError.self) { try HeaderField(name: "X", value: "a\nBcc: evil@example.com") }
        #expect(throws: HeaderError.self) { try HeaderField(name: "X", value: "a\rb") }
        #expect(throws: HeaderError.self) { try HeaderField(name: "Bad Name", value: "a") }
        #expect(throws: HeaderError.self) { try HeaderField(name: "", value: "a") }
    }

    @Test func foldedTraceFields() throws {
        let f = try HeaderField(name: "Received", multilineValue: "from a\n\tby b; date")
        #expect(String(decoding: f.raw, as: UTF8.self) == "Received: from a\n\tby b; date\n")
        #expect(f.value == "from a\tby b; date")
        #expect(throws: HeaderError.self) { try HeaderField(name: "Received", multilineValue: "from a\nBcc: x") }
        #expect(throws: HeaderError.self) { try HeaderField(name: "Received", multilineValue: "a\r\n b") }
    }

    @Test func prependedFieldsBeforeBodyOnlyMessageGetASeparator() throws {
        let m = try Message.literal("body only\n")
        var sink = BufferSink()
        try m.write(prepending: [try HeaderField(name: "Delivered-To", value: "a@b")], to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "Delivered-To: a@b\n\nbody only\n")
    }

    @Test func overlongFieldEndsTheHeaderWithoutLosingBytes() throws {
        let long = "X-Long: " + String(repeating: "a", count: 300) + "\n"
        let text = "A: 1\n" + long + "B: 2\n\nbody\n"
        let m = try Message.parse(Spool(bytes: Array(text.utf8)), limits: .init(fieldSize: 100))
        #expect(m.headerTruncated)
        #expect(m.header.fields.map(\.name) == ["A"])
        var sink = BufferSink()
        try m.write(to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "A: 1\n\n" + long + "B: 2\n\nbody\n")
    }

    @Test func overlongFoldedFieldIsAlsoBounded() throws {
        let folded = "X-Fold: a\n" + String(repeating: " b\n", count: 100)
        let text = folded + "\nbody\n"
        let m = try Message.parse(Spool(bytes: Array(text.utf8)), limits: .init(fieldSize: 50))
        #expect(m.headerTruncated)
        var sink = BufferSink()
        try m.write(to: &sink)
        #expect(sink.bytes.count >= text.utf8.count)
        #expect(String(decoding: sink.bytes, as: UTF8.self).hasSuffix(text))
    }

    @Test func tooManyFieldsEndTheHeader() throws {
        let text = String(repeating: "X: y\n", count: 50) + "\nbody\n"
        let m = try Message.parse(Spool(bytes: Array(text.utf8)), limits: .init(fieldCount: 10))
        #expect(m.header.fields.count == 10)
        #expect(m.headerTruncated)
    }
}

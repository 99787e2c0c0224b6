import Testing
@testable import Pipeline

struct TransferFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let encoding: ContentTransferEncoding
    let input: String
    let output: [UInt8]
    var testDescription: String { name }
}

let transferFixtures: [TransferFixture] = [
    .init(name: "base64", encoding: .base64, input: "SGVsbG8sIHdvcmxkIQ==\n", output: Array("Hello, world!".utf8)),
    .init(name: "base64 folded", encoding: .base64, input: "SGVs\r\nbG8s\r\nIHdv\ncmxk", output: Array("Hello, world".utf8)),
    .init(name: "base64 junk ignored", encoding: .base64, input: "SG!Vs*bG8\n", output: Array("Hello".utf8)),
    .init(name: "base64 missing padding", encoding: .base64, input: "SGk", output: Array("Hi".utf8)),
    .init(name: "base64 two blobs", encoding: .base64, input: "SGk=\nSGk=\n", output: Array("HiHi".utf8)),
    .init(name: "base64 lone char", encoding: .base64, input: "SGkh\nS", output: Array("Hi!".utf8)),
    .init(name: "qp soft break", encoding: .quotedPrintable, input: "long li=\nne\n", output: Array("long line\n".utf8)),
    .init(name: "qp soft break CRLF", encoding: .quotedPrintable, input: "a=\r\nb\r\n", output: Array("ab\r\n".utf8)),
    .init(name: "qp hex", encoding: .quotedPrintable, input: "caf=C3=A9 =3D", output: Array("café =".utf8)),
    .init(name: "qp lower-case hex", encoding: .quotedPrintable, input: "caf=c3=a9", output: Array("café".utf8)),
    .init(name: "qp invalid escape kept", encoding: .quotedPrintable, input: "50=% off =ZZ", output: Array("50=% off =ZZ".utf8)),
    .init(name: "qp trailing blanks dropped", encoding: .quotedPrintable, input: "text   \nmore\t\n", output: Array("text\nmore\n".utf8)),
    .init(name: "qp soft break with blanks", encoding: .quotedPrintable, input: "a= \t\nb", output: Array("ab".utf8)),
    .init(name: "qp '=' at end", encoding: .quotedPrintable, input: "end=", output: Array("end".utf8)),
    .init(name: "qp '=' and one char at end", encoding: .quotedPrintable, input: "x=4", output: Array("x=4".utf8)),
    .init(name: "7bit identity", encoding: .sevenBit, input: "a=3D\n", output: Array("a=3D\n".utf8)),
]

@Suite("transfer decoding")
struct TransferDecodingTests {
    @Test(arguments: transferFixtures)
    func decodesWhole(_ f: TransferFixture) {
        #expect(TransferDecoder.decode(Array(f.input.utf8), f.encoding) == f.output)
    }

    /// Chunking must not matter: every split point gives the same output.
    @Test(arguments: transferFixtures)
    func decodesInAnySplit(_ f: TransferFixture) {
        let input = Array(f.input.utf8)
        for cut in 0...input.count {
            var d = TransferDecoder(f.encoding)
            var out: [UInt8] = []
            input[..<cut].withUnsafeBytes { d.decode($0, into: &out) }
            input[cut...].withUnsafeBytes { d.decode($0, into: &out) }
            d.finish(into: &out)
            #expect(out == f.output, "split at \(cut)")
        }
    }

    @Test(arguments: [
        ("", ContentTransferEncoding.sevenBit), ("BASE64", .base64), (" Quoted-Printable (comment)", .quotedPrintable),
        ("8bit", .eightBit), ("x-uuencode", .other("x-uuencode")),
    ])
    func parsesFieldValue(_ value: String, _ expected: ContentTransferEncoding) {
        #expect(ContentTransferEncoding(value) == expected)
    }
}

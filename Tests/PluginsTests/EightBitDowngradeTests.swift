import Pipeline
@testable import Plugins
import Testing

/// The 7-bit downgrade for servers without 8BITMIME: converted parts decode to the original.
@Suite("8BITMIME downgrade to quoted-printable")
struct EightBitDowngradeTests {
    static let text = "Grüße aus Köln — naïve café, ünïcödé.\nA long line: " + String(repeating: "é", count: 60) + " end  \n\tTab, = sign, trailing space \nlast"

    /// Every leaf's decoded body, as the receiver reads it.
    static func leaves(_ bytes: [UInt8]) throws -> [(String, ContentTransferEncoding)] {
        let m = try Message.parse(Spool(bytes: bytes))
        let s = try MIMEStructure.parse(m)
        return try s.leaves.map { (String(decoding: try s.decodedBody(of: $0).bytes, as: UTF8.self), $0.transferEncoding) }
    }

    static func bodyIsSevenBit(_ bytes: [UInt8]) -> Bool {
        let m = try? Message.parse(Spool(bytes: bytes))
        return !bytes[(m?.bodyOffset ?? 0)...].contains { $0 >= 0x80 }
    }

    @Test func singlePartTextBecomesQuotedPrintableAndDecodesToTheOriginal() throws {
        let original = "Subject: Grüße\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + Self.text
        let converted = try #require(EightBitDowngrade.convert(Array(original.utf8)))
        let out = String(decoding: converted, as: UTF8.self)
        #expect(Self.bodyIsSevenBit(converted))
        #expect(out.hasPrefix("Subject: Grüße\n"), "the 8-bit header stays as it is")
        #expect(out.contains("Content-Transfer-Encoding: quoted-printable\n\n") && !out.contains("8bit"))
        let body = out[out.range(of: "\n\n")!.upperBound...]
        #expect(body.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 76 }, "\(body)")
        let leaves = try Self.leaves(converted)
        #expect(leaves.count == 1 && leaves[0].1 == .quotedPrintable)
        #expect(leaves[0].0.replacingOccurrences(of: "\r\n", with: "\n") == Self.text)
    }

    @Test func multipartConvertsOnlyEightBitLeavesAndRelabelsContainers() throws {
        let original = """
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b1"
            Content-Transfer-Encoding: 8bit

            preamble
            --b1
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: 8bit

            \(Self.text)
            --b1
            Content-Type: text/plain; charset=us-ascii

            plain ascii stays
            --b1
            Content-Type: application/octet-stream
            Content-Transfer-Encoding: base64

            AAECAwQ=
            --b1
            Content-Type: message/rfc822

            Subject: inner
            MIME-Version: 1.0
            Content-Type: text/plain; charset=iso-8859-1

            caf\u{e9}
            --b1--

            """
        let converted = try #require(EightBitDowngrade.convert(Array(original.utf8)))
        #expect(Self.bodyIsSevenBit(converted))
        let out = String(decoding: converted, as: UTF8.self)
        #expect(out.contains("boundary=\"b1\"\nContent-Transfer-Encoding: 7bit\n\npreamble"))
        #expect(out.contains("plain ascii stays") && out.contains("AAECAwQ="))
        let leaves = try Self.leaves(converted)
        #expect(leaves.map(\.1) == [.quotedPrintable, .sevenBit, .base64, .quotedPrintable])
        #expect(leaves[0].0.replacingOccurrences(of: "\r\n", with: "\n") == Self.text)
        #expect(leaves[3].0 == "café")
    }

    @Test func whatCannotBeConvertedIsSentAsItIs() {
        // No MIME-Version: Postfix's "unlabeled" 8-bit mail goes out unchanged.
        #expect(EightBitDowngrade.convert(Array("Subject: x\n\ncafé\n".utf8)) == nil)
        // Nothing 8-bit in the body (only in a header): nothing to do.
        #expect(EightBitDowngrade.convert(Array("Subject: café\nMIME-Version: 1.0\n\nascii\n".utf8)) == nil)
        // Already quoted-printable with a stray 8-bit byte: left to the receiver.
        #expect(EightBitDowngrade.convert(Array("MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\ncafé\n".utf8)) == nil)
    }

    @Test func quotedPrintableEncodesWhatRFC2045Requires() {
        let qp = String(decoding: EightBitDowngrade.quotedPrintable(Array("a=b \t\nx \r\n\u{1}é".utf8)), as: UTF8.self)
        #expect(qp == "a=3Db =09\r\nx=20\r\n=01=C3=A9")
        let long = EightBitDowngrade.quotedPrintable([UInt8](repeating: 0xE9, count: 100))
        let lines = String(decoding: long, as: UTF8.self).split(separator: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= 76 } && lines.dropLast().allSatisfy { $0.hasSuffix("=") })
        #expect(TransferDecoder.decode(long, .quotedPrintable) == [UInt8](repeating: 0xE9, count: 100))
    }
}

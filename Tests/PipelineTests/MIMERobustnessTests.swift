import Foundation
import Testing
@testable import Pipeline

/// Mangled mail: every corpus message cut short at many points and with bytes flipped. The
/// parser must never trap, every part must lie inside the spool, and the limits must hold.
@Suite("MIME robustness")
struct MIMERobustnessTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func check(_ bytes: [UInt8]) throws {
        let m = try Message.parse(Spool(bytes: bytes))
        let s = try MIMEStructure.parse(m, limits: .init(maxDepth: 8, maxParts: 50, maxHeaderSize: 4096))
        #expect(s.parts.count <= 50)
        for p in s.parts {
            #expect(p.headerOffset <= p.bodyOffset && p.bodyOffset <= p.bodyEnd && p.bodyEnd <= bytes.count)
            #expect(p.depth <= 8)
        }
        let v = try MessageText(message: m, structure: s, limits: .init(textSize: 4096, uriCount: 20))
        #expect(v.rawBody.count <= 4096 && v.uris.count <= 20)
        for f in m.header.fields where f.hasName("To") || f.hasName("From") || f.hasName("Cc") {
            _ = AddressWriter.rewrite(f) { var x = $0; x.domain = x.domain ?? "example.org"; return x }
        }
    }

    @Test func mangledCorpusNeverTraps() throws {
        let dir = try #require(Bundle.module.url(forResource: "MIMECorpus", withExtension: nil))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".eml") }.sorted()
        var rng = SplitMix(state: 2026)
        var checked = 0
        for name in names {
            let original = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            for _ in 0..<100 {
                var b = original
                // Cut short somewhere, then flip a few bytes to structure-relevant ones.
                b.removeLast(Int(rng.next() % UInt64(b.count / 2 + 1)))
                for _ in 0..<4 where !b.isEmpty {
                    let at = Int(rng.next() % UInt64(b.count))
                    b[at] = [UInt8(ascii: "-"), UInt8(ascii: "\n"), UInt8(ascii: "="), UInt8(ascii: ":"), 0xFF, UInt8(ascii: "\"")][Int(rng.next() % 6)]
                }
                try Self.check(b)
                checked += 1
            }
        }
        #expect(checked == names.count * 100)
    }

    /// Random strings over the characters the parsers care about: every parser must end, and
    /// what it returns must be within its limits.
    @Test func randomInputToEveryParser() throws {
        let alphabet = Array("<>()[]\\\",:;@.=?_ \t\r\n-abcQBu8&#x;/\u{FF}".utf8)
        var rng = SplitMix(state: 5)
        for _ in 0..<3_000 {
            let n = Int(rng.next() % 200)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let list = AddressList.parse(bytes, limit: 20)
            #expect(list.mailboxes.count <= 20)
            _ = EncodedWord.decode(bytes)
            _ = ContentType.parse(bytes[...])
            _ = ContentDisposition.parse(bytes[...])
            _ = HTMLText.convert(String(decoding: bytes, as: UTF8.self))
            _ = URIScanner.scan(String(decoding: bytes, as: UTF8.self))
            _ = TransferDecoder.decode(bytes, .quotedPrintable)
            _ = TransferDecoder.decode(bytes, .base64)
            _ = Charset.decode(bytes, charset: "iso-2022-jp")
        }
    }
}

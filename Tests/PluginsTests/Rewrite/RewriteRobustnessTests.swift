import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// Hostile address headers, generated from the pieces that break parsers (unbalanced quotes,
/// brackets and parentheses, stray specials, 8-bit and control bytes, CR and LF inside the
/// value), through the stage with qualification, masquerading and a canonical map: the header
/// section keeps its number of fields, every field still starts with its own name, and no
/// line of a field starts anything but a continuation.
@Suite("rewrite robustness")
struct RewriteRobustnessTests {
    static let pieces = ["a", "b@c", "<", ">", "\"", "(", ")", "\\", ",", ";", ":", "@", ".", " ", "\t", "[1.2.3.4]",
                         "=?utf-8?q?x?=", "é", "\u{7}", "\r\n ", "\n\t", "<>", "!", "%", "g: h;", "user@host."]

    struct LCG {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
    }

    @Test func hostileHeadersNeverBreakTheSection() async throws {
        let stage = RewriteStage(qualifier: AddressQualifier(appendDotMydomain: true, origin: "example.com", domain: "example.com"),
                                 masquerade: Masquerade(domains: ["example.com"]),
                                 canonical: CanonicalMaps(tables: TableList([try InlineTable(argument: "{ a@example.com=mapped@example.com }", name: "inline:t")])))
        var rng = LCG(state: 42)
        for _ in 0..<2000 {
            var value = ""
            for _ in 0..<(1 + rng.next(12)) { value += Self.pieces[rng.next(Self.pieces.count)] }
            // Line breaks come only as folding ("\r\n " and "\n\t"), so the input is a valid header.
            let text = "From: \(value)\nTo: \(value)\nSubject: s\n\nbody\n"
            var tx = try Transaction.literal(text)
            let before = tx.message.header.fields.map(\.name)
            await tx.run(stage)
            let after = tx.message.header.fields
            #expect(after.map(\.name) == before, "\(value.debugDescription)")
            for f in after {
                let lines = f.raw.split(separator: 10, omittingEmptySubsequences: false).dropFirst().dropLast()
                #expect(lines.allSatisfy { $0.first == 9 || $0.first == 32 }, "\(String(decoding: f.raw, as: UTF8.self).debugDescription)")
            }
            let reparsed = try Message.literal(String(decoding: tx.message.header.bytes + [10] + Array("body\n".utf8), as: UTF8.self))
            #expect(reparsed.header.fields.map(\.name) == before, "\(value.debugDescription)")
        }
    }
}

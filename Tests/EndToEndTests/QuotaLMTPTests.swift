import Foundation
import Testing

/// Quotas behind `mdad serve`: the delivery that would pass the limit is deferred with 4.2.2
/// (552 5.2.2 with quota_full_tempfail = no), and once the mailbox is full the RCPT itself is
/// refused, before the message is sent; other recipients of the same message are not affected.
@Suite("quotas over LMTP", .serialized)
struct QuotaLMTPTests {
    static func fill(_ server: LMTPInstance) throws -> [[String]] {
        var rounds: [[String]] = []
        for _ in 0..<4 {
            let r = try server.client("raw-rcpts", stdin: "alice@example.com bob@example.com\n")
            rounds.append(((r["envelope"] as? [String]) ?? []).dropFirst(2).prefix(2) + ((r["replies"] as? [String]) ?? []))
        }
        return rounds
    }

    @Test(arguments: [("yes", "452 4.2.2"), ("no", "552 5.2.2")])
    func aFullMailboxIsRefusedAtDataThenAtRCPT(tempfail: String, reply: String) throws {
        // Each message is about 250 bytes with its trace fields: alice's 400 bytes hold one,
        // and the second would pass the limit (refused after DATA); bob may have two messages,
        // after which he is full (refused at RCPT, before the data is sent).
        let server = try LMTPInstance(extraMainCF: """
            quota_maps = inline:{ alice@example.com=400, bob@example.com=messages=2 }
            quota_full_tempfail = \(tempfail)
            """)
        defer { server.cleanup() }
        let rounds = try Self.fill(server)
        #expect(rounds[0].count == 4 && rounds[0].allSatisfy { $0.hasPrefix("250") }, "\(rounds[0])")
        #expect(rounds[1].count == 4 && rounds[1][2].hasPrefix(reply) && rounds[1][3].hasPrefix("250"), "\(rounds[1])")
        // Bob is full now: his RCPT is refused; alice is not full (250 of 400 bytes) but her copy does not fit.
        for round in rounds[2...] {
            #expect(round.count == 3 && round[0].hasPrefix("250") && round[1].hasPrefix(reply) && round[2].hasPrefix(reply), "\(round)")
        }
        #expect(server.files("alice").count == 1)
        #expect(server.files("bob").count == 2)
    }
}

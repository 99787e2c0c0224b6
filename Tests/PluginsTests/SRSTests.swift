#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Pipeline
import PipelineTestKit
@testable import Plugins
import Testing

@Suite("SRS: forward, reverse, SRS1, forged and expired addresses, rotation")
struct SRSTests {
    static let day = 86_400
    /// A fixed instant (day 20,000 since the epoch: its stamp is "RA") so results do not depend on today.
    static let now = 20_000 * day + 3_600
    let srs = SRS(domain: "fwd.example.test", secrets: [Array("tops3cr3t".utf8)])

    @Test func srs0ForwardHasTheSpecifiedShapeAndReverses() throws {
        let a = try #require(srs.forward("alice@origin.example", now: Self.now))
        let f = a.split(separator: "=", omittingEmptySubsequences: false)
        #expect(f.count == 5 && f[0] == "SRS0" && f[1].count == 4 && f[2] == "RA" && f[3] == "origin.example")
        #expect(a.hasSuffix("=alice@fwd.example.test"))
        #expect(try srs.reverse(a, now: Self.now) == "alice@origin.example")
        // The hash is compared without regard to case (mail systems change the local part's case).
        #expect(try srs.reverse(a.uppercased(), now: Self.now) == "ALICE@ORIGIN.EXAMPLE")
    }

    @Test func timestampIsTheDayNumberInBase32AndExpiresAfterTheMaximumAge() throws {
        #expect(SRS.timestamp(now: Self.now) == "RA")   // 20000 % 1024 = 544 = 17·32 + 0: R, A
        let a = try #require(srs.forward("bob@origin.example", now: Self.now))
        #expect(try srs.reverse(a, now: Self.now + 21 * Self.day) == "bob@origin.example")
        #expect(throws: SRS.Failure.timestampExpired) { try srs.reverse(a, now: Self.now + 22 * Self.day) }
        #expect(SRS.Failure.timestampExpired.status.status == .policyRejection)
        // The 1024-day cycle wraps: a stamp from day 1023 is two days old on day 1025.
        let late = 1023 * Self.day, wrapped = 1025 * Self.day
        let b = try #require(srs.forward("carol@origin.example", now: late))
        #expect(try srs.reverse(b, now: wrapped) == "carol@origin.example")
        #expect(throws: SRS.Failure.timestampInvalid) {
            try srs.reverse(b.replacingOccurrences(of: "=" + SRS.timestamp(now: late) + "=", with: "=1!="), now: wrapped)
        }
    }

    @Test func forgedHashesAreRefusedWithPolicyStatus() throws {
        let a = try #require(srs.forward("alice@origin.example", now: Self.now))
        // Another user, same hash: the signature does not cover it.
        let other = a.replacingOccurrences(of: "=alice@", with: "=mallory@")
        #expect(throws: SRS.Failure.hashInvalid) { try srs.reverse(other, now: Self.now) }
        let hash = a.split(separator: "=")[1]
        #expect(throws: SRS.Failure.hashTooShort) { try srs.reverse(a.replacingOccurrences(of: "=\(hash)=", with: "=\(hash.prefix(3))="), now: Self.now) }
        let other2 = SRS(domain: "fwd.example.test", secrets: [Array("another".utf8)])
        #expect(throws: SRS.Failure.hashInvalid) { try other2.reverse(a, now: Self.now) }
        let status = SRS.Failure.hashInvalid.status
        #expect(status.status == EnhancedStatus(5, 7, 1) && status.text.contains("SRS"))
        #expect(throws: SRS.Failure.self) { try srs.reverse("SRS0=abcd=TA@fwd.example.test", now: Self.now) }
        #expect(SRS.Failure.notSRS("x").status.status == .unknownUser)
    }

    @Test func secretsRotateTheFirstSignsAndAllVerify() throws {
        let old = SRS(domain: "fwd.example.test", secrets: [Array("old".utf8)])
        let rotated = SRS(domain: "fwd.example.test", secrets: [Array("new".utf8), Array("old".utf8)])
        let byOld = try #require(old.forward("alice@origin.example", now: Self.now))
        #expect(try rotated.reverse(byOld, now: Self.now) == "alice@origin.example")
        let byNew = try #require(rotated.forward("alice@origin.example", now: Self.now))
        #expect(byNew != byOld)
        #expect(throws: SRS.Failure.hashInvalid) { try old.reverse(byNew, now: Self.now) }
    }

    @Test func forwardingAnSRS0AddressMakesSRS1KeepingTheFirstForwarder() throws {
        let first = SRS(domain: "first.example", secrets: [Array("first-secret".utf8)])
        let srs0 = try #require(first.forward("alice@origin.example", now: Self.now))
        let srs1 = try #require(srs.forward(srs0, now: Self.now))
        #expect(srs1.hasPrefix("SRS1="))
        #expect(srs1.contains("=first.example==") && srs1.hasSuffix("=origin.example=alice@fwd.example.test"))
        // A bounce to the SRS1 address goes back to the first forwarder's SRS0 address ...
        let back = try srs.reverse(srs1, now: Self.now)
        #expect(back == srs0)
        // ... which reverses there to the original sender.
        #expect(try first.reverse(back, now: Self.now) == "alice@origin.example")
        // A third forwarder keeps the first forwarder's host, signing anew.
        let third = SRS(domain: "third.example", secrets: [Array("third-secret".utf8)])
        let again = try #require(third.forward(srs1, now: Self.now))
        #expect(again.hasPrefix("SRS1=") && again.contains("=first.example==") && again.hasSuffix("@third.example"))
        #expect(try third.reverse(again, now: Self.now) == srs0)
        #expect(throws: SRS.Failure.hashInvalid) { try srs.reverse(again.replacingOccurrences(of: "@third.example", with: "@fwd.example.test"), now: Self.now) }
    }

    @Test func nullSendersOwnDomainAndOurOwnAddressesAreLeftAlone() throws {
        #expect(srs.forward("") == nil)
        #expect(srs.forward("postmaster") == nil)
        #expect(srs.forward("someone@FWD.example.test") == nil)
        let a = try #require(srs.forward("alice@origin.example", now: Self.now))
        #expect(srs.forward(a.replacingOccurrences(of: "@fwd.example.test", with: "@alias.example.test"), now: Self.now) == nil)
        #expect(srs.forward(String(repeating: "x", count: 2000) + "@origin.example") == nil)
        // Found by fuzzing: a "domain" with "=" would not reverse to the sender, so it is left alone;
        // "=" in the local part is fine.
        #expect(srs.forward("e=alice@f=rwarder.example", now: Self.now) == nil)
        #expect(srs.forward("\u{59C}@n.example", now: Self.now) == nil)       // a combining mark
        #expect(srs.forward("a\u{13}b@origin.example", now: Self.now) == nil)  // a control character
        let eq = try #require(srs.forward("e=alice@origin.example", now: Self.now))
        #expect(try srs.reverse(eq, now: Self.now) == "e=alice@origin.example")
        let plus = SRS(domain: "fwd.example.test", secrets: [Array("s".utf8)], separator: "+")
        let p = try #require(plus.forward("alice@origin.example", now: Self.now))
        #expect(p.hasPrefix("SRS0+"))
        #expect(try plus.reverse(p, now: Self.now) == "alice@origin.example")
    }

    static func configuration(_ extra: String, secrets: String? = "tops3cr3t\nold\n") throws -> (Configuration, TempDir) {
        let dir = TempDir()
        if let secrets { try secrets.write(toFile: dir.path + "/secrets", atomically: true, encoding: .utf8) }
        let text = "mydestination = example.test, localhost\nsrs_domain = fwd.example.test\nsrs_secrets = \(dir.path)/secrets\n" + extra
        let config = try Configuration(mainCF: text, file: "main.cf", table: StageRegistry.builtin.parameterTable,
                                       system: SystemInfo(hostName: "mx.example.test"))
        return (config, dir)
    }

    @Test func configurationExcludesLocalDomainsAndReportsErrorsWithFileAndLine() throws {
        let (config, dir) = try Self.configuration("srs_exclude_domains = $mydestination, .internal.example\n")
        _ = dir
        let c = try #require(try SRSConfiguration.configured(config))
        #expect(c.srs.secrets.count == 2)
        #expect(c.forwardSender("u@example.test") == "u@example.test")
        #expect(c.forwardSender("u@a.internal.example") == "u@a.internal.example")
        #expect(c.forwardSender("u@internal.example").hasPrefix("SRS0="))
        #expect(c.forwardSender("") == "")
        #expect(c.isOurs(c.forwardSender("u@origin.example")))
        #expect(!c.isOurs("SRS0=x=y=z=w@elsewhere.example"))

        let (missing, d2) = try Self.configuration("", secrets: nil)
        _ = d2
        let e = #expect(throws: ConfigError.self) { try SRSConfiguration.configured(missing) }
        #expect("\(e!)".contains("main.cf") && "\(e!)".contains("line 3") && "\(e!)".contains("cannot read"), "\(e!)")
        let (bad, d3) = try Self.configuration("srs_separator = /\n")
        _ = d3
        let e2 = #expect(throws: ConfigError.self) { try SRSConfiguration.configured(bad) }
        #expect("\(e2!)".contains("expected =, + or -"), "\(e2!)")
        let (off, d4) = try Self.configuration("srs_domain =\n")
        _ = d4
        #expect(try SRSConfiguration.configured(off) == nil)
    }

    @Test func theStageReversesBouncesAndRefusesForgedOnes() async throws {
        let (config, dir) = try Self.configuration("")
        _ = dir
        let stage = try SRSStage(configuration: config)
        let c = try #require(stage.configuration)
        let good = c.forwardSender("alice@origin.example")
        let forged = good.replacingOccurrences(of: "=alice@", with: "=mallory@")
        var tx = try Transaction.literal("Subject: bounce\n\nundeliverable\n", from: "",
                                          to: [good, forged, "someone@example.test"])
        await tx.run(stage, configuration: config)
        #expect(tx.recipients[0].actions == [.redirect(to: "alice@origin.example", sender: nil)])
        #expect(tx.recipients[0].isPending)
        #expect(tx.recipients[1].state.status?.status == EnhancedStatus(5, 7, 1))
        #expect(tx.recipients[2].actions.isEmpty && tx.recipients[2].isPending)
    }

    /// Records what reaches the transport under SRS.
    final class Recording: OutboundTransport, @unchecked Sendable {
        var senders: [String] = []
        func send(sender: String, recipients: [String], prepending: [HeaderField], message: Message) throws(DeliveryStatus) { senders.append(sender) }
        func send(_ message: OutboundMessage) throws(DeliveryStatus) { senders.append(message.sender) }
    }

    @Test func forwardsGoOutWithTheRewrittenSender() throws {
        let (config, dir) = try Self.configuration("")
        _ = dir
        let inner = Recording()
        let t = try SRSTransport.wrapping(inner, config)
        let m = try Message.literal("Subject: x\n\nbody\n")
        try t.send(sender: "alice@origin.example", recipients: ["r@remote.example"], prepending: [], message: m)
        try t.send(sender: "bob@example.test", recipients: ["r@remote.example"], prepending: [], message: m)
        try t.send(OutboundMessage(sender: "", recipients: ["r@remote.example"], data: []))
        #expect(inner.senders.count == 3)
        #expect(inner.senders[0].hasPrefix("SRS0=") && inner.senders[0].hasSuffix("=origin.example=alice@fwd.example.test"))
        #expect(inner.senders[1] == "bob@example.test")
        #expect(inner.senders[2] == "")
        let (off, d2) = try Self.configuration("srs_domain =\n")
        _ = d2
        #expect(try SRSTransport.wrapping(inner, off) is Recording)
    }
}

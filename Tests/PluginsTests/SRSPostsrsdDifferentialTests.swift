#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import Plugins
import Testing

/// mdad's SRS against Debian's postsrsd with the same secrets and domain: the same forward
/// address must come out of both, each must reverse what the other wrote, and both must refuse
/// the same forged and expired addresses. Prints the agreement and every difference.
@Suite("SRS: differential against postsrsd", .serialized, .enabled(if: PostsrsdPeer.available, "postsrsd is not installed"))
struct SRSPostsrsdDifferentialTests {
    static let domain = "fwd.example.test"
    static let secrets = "differential-s3cret\nolder-secret\n"
    let srs = SRS(domain: domain, secrets: [Array("differential-s3cret".utf8), Array("older-secret".utf8)])

    /// Senders of every shape a forward meets, including SRS addresses of other forwarders.
    func senders() -> [String] {
        let first = SRS(domain: "first.example", secrets: [Array("first-forwarder".utf8)])
        let other = SRS(domain: "other.example", secrets: [Array("another-one".utf8)], separator: "+")
        let firstSRS0 = first.forward("alice@origin.example")!
        let otherSRS0 = other.forward("bob@origin.example")!
        let secondSRS1 = SRS(domain: "second.example", secrets: [Array("second".utf8)]).forward(firstSRS0)!
        let ours = srs.forward("carol@origin.example")!.replacingOccurrences(of: "@" + Self.domain, with: "@alias.example.test")
        return [
            "alice@origin.example", "Bob.Smith+tag@Sub.Origin.Example", "o'brien@origin.example",
            "x_y-z@a.b.c.d.example", "UPPER@ORIGIN.EXAMPLE", "a=b@origin.example", "a==b=c@origin.example",
            "user@fwd.example.test", "user@FWD.EXAMPLE.TEST", "postmaster", "@origin.example",
            firstSRS0, otherSRS0, secondSRS1, firstSRS0.lowercased(), ours,
            "SRS0=abcd=TA=x.example=y@elsewhere.example",
            "a@b@origin.example",
        ]
    }

    @Test func forwardAndReverseAgreeWithPostsrsd() throws {
        let peer = try PostsrsdPeer(domain: Self.domain, secrets: Self.secrets)
        defer { peer.stop() }
        var checks = 0, agreed = 0
        var differences: [String] = []
        func compare(_ what: String, _ mdad: String?, _ postsrsd: String?) {
            checks += 1
            if mdad == postsrsd { agreed += 1 } else {
                differences.append("\(what): mdad \(mdad ?? "(refused)"), postsrsd \(postsrsd ?? "(refused)")")
            }
        }
        for sender in senders() {
            let mine = srs.forward(sender) ?? sender
            let theirs = try peer.forward(sender) ?? sender
            compare("forward <\(sender)>", mine, theirs)
            for written in Set([mine, theirs]) where written != sender {
                compare("reverse <\(written)>", try? srs.reverse(written), try peer.reverse(written))
                // Mail systems may change the case of what they hand back.
                compare("reverse upper-cased <\(written)>", try? srs.reverse(written.uppercased()), try peer.reverse(written.uppercased()))
                // Forged: another user under the same signature.
                let cut = written.lastIndex(of: "=")!
                let forged = String(written[..<cut]) + "=x" + String(written[written.index(after: cut)...])
                compare("reverse forged <\(forged)>", try? srs.reverse(forged), try peer.reverse(forged))
            }
        }
        // Timestamps: signed by mdad for days in the past, judged by both.
        for age in [0, 1, 20, 21, 22, 30, 500] {
            let then = Int(time(nil)) - age * 86_400
            let address = srs.forward("dated@origin.example", now: then)!
            compare("reverse \(age) days old <\(address)>", try? srs.reverse(address), try peer.reverse(address))
        }
        // Rotation: an address signed with the second (older) secret verifies at both.
        let old = SRS(domain: Self.domain, secrets: [Array("older-secret".utf8)]).forward("rotated@origin.example")!
        compare("reverse signed with the older secret <\(old)>", try? srs.reverse(old), try peer.reverse(old))
        let pct = Double(agreed) * 100 / Double(max(checks, 1))
        print("SRS differential against postsrsd: \(agreed)/\(checks) agree (\(String(format: "%.1f", pct))%)")
        for d in differences { print("  difference: \(d)") }
        #expect(checks >= 70)
        // The one known difference: an address with two @ (a quoted local part): postsrsd
        // splits at the first, mdad at the last, where RFC 5321's domain is. That is one
        // forward and the four reversals of the two different results.
        #expect(agreed >= checks - 5, "\(differences)")
        #expect(differences.allSatisfy { $0.contains("a@b@") || $0.contains("=b@origin.example") }, "\(differences)")
    }

    @Test func plusSeparatorAgreesWithPostsrsd() throws {
        let peer = try PostsrsdPeer(domain: Self.domain, secrets: Self.secrets, separator: "+")
        defer { peer.stop() }
        let plus = SRS(domain: Self.domain, secrets: srs.secrets, separator: "+")
        let theirs = try #require(try peer.forward("alice@origin.example"))
        #expect(plus.forward("alice@origin.example") == theirs)
        #expect(theirs.hasPrefix("SRS0+"))
        #expect(try plus.reverse(theirs) == "alice@origin.example")
        let srs1 = try #require(try peer.forward(SRS(domain: "first.example", secrets: [Array("f".utf8)]).forward("a@origin.example")!))
        #expect(plus.forward(SRS(domain: "first.example", secrets: [Array("f".utf8)]).forward("a@origin.example")!) == srs1)
        #expect(try peer.reverse(srs1) == (try? plus.reverse(srs1)))
    }
}

import Foundation
import Testing
@testable import Spam

/// The registry boundaries and date reading of SpamAssassin's header modifiers and date
/// evals, on inputs whose answers Debian's SpamAssassin 4.0.1 gave (its RegistryBoundaries
/// trim_domain, Util::is_fqdn_valid, reverse_ip_address and parse_rfc822_date, called from
/// perl with the stock 20_aux_tlds.cf). The differential test judges them in whole messages.
@Suite("Registry boundaries and dates as SpamAssassin reads them")
struct RegistryBoundariesTests {
    static let auxTLDs = "/usr/share/spamassassin/20_aux_tlds.cf"

    @Test func trimsAtTheRegistryBoundary() throws {
        try #require(FileManager.default.fileExists(atPath: Self.auxTLDs), "spamassassin is not installed (scripts/deps TEST_PACKAGES)")
        let rb = RuleSet.load(paths: [Self.auxTLDs]).registry
        #expect(rb.validTLDs.count > 1000 && rb.twoLevel.contains("co.uk"))
        let cases: [(String, String)] = [
            ("www.foo.co.uk", "foo.co.uk"), ("a.b.c.ci.los-angeles.ca.us", "c.ci.los-angeles.ca.us"), ("x.y.ca.us", "x.y.ca.us"),
            ("sub.example.com.au", "example.com.au"), ("example.com", "example.com"), ("com", "com"),
            ("..a..b.example.org.", "example.org"), ("www.pvt.k12.ca.us", "www.pvt.k12.ca.us"), ("mail.example.biz", "example.biz"),
        ]
        for (host, domain) in cases {
            #expect(String(decoding: rb.trimDomain(Array(host.utf8)), as: UTF8.self) == domain, "\(host)")
        }
    }

    @Test func validHostNames() {
        let cases: [(String, Bool)] = [
            ("foo_bar.example.com", true), ("_dmarc.example.com", true), ("host-.example.com", false), ("a.b", true),
            (String(repeating: "x", count: 64) + ".com", false), ("ok.example.org.", true), ("a_b.com", false),
        ]
        for (host, valid) in cases { #expect(RegistryBoundaries.isFQDNValid(Array(host.utf8)) == valid, "\(host)") }
    }

    @Test func findsAndReversesAddresses() {
        func ip(_ s: String, _ rev: Bool = false) -> String? { RegistryBoundaries.ip(in: Array(s.utf8), reversed: rev).map { String(decoding: $0, as: UTF8.self) } }
        #expect(ip("from x (y [192.0.2.7]) by z") == "192.0.2.7")
        #expect(ip("[192.0.2.7]", true) == "7.2.0.192")
        #expect(ip("2001:db8::25", true) == "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2")
        #expect(ip("10.1.2.3.4") == nil, "an address followed by a dot is not one")
        #expect(ip("1.2.3.400") == nil)
        #expect(ip("no address") == nil)
    }

    @Test func readsDatesAsSpamAssassin() {
        let cases: [(String, Int?)] = [
            ("Wed, 25 Nov 2026 01:00:00 +0000", 1795568400), ("Tue, 24 Nov 2026 23:59:59 -0800", 1795593599),
            ("25 Nov 2026 10:00:00 GMT", 1795600800), ("Wed Nov 25 01:02:03 2026 PST", 1795593600), ("31 Feb 99 12:00 EST", 920307600),
            ("5 Jan 2040 00:00:00 +0130", 2114721000), ("1 Jan 1970 00:30:00 +0100", 0), ("garbage", nil),
            ("Mon, 0 Jan 2026 00:00:00 +0000", nil), ("Mon,1 Mar 2026 25:61:61 XYZ", 1772409599),
        ]
        for (text, expected) in cases { #expect(RFC822Date.parse(Array(text.utf8)) == expected, "\(text)") }
    }
}

import Testing
@testable import Pipeline
@testable import Plugins

@Suite("rewrite: standard address form")
struct AddressQualifierTests {
    static let q = AddressQualifier(appendAtMyorigin: true, appendDotMydomain: true, swapBangpath: true,
                                    allowPercentHack: true, origin: "origin.example", domain: "example.com")

    static func rewrite(_ text: String, _ q: AddressQualifier = q) -> String {
        let m = AddressList.parse(text).mailboxes[0]
        return q.rewrite(m).address
    }

    @Test(arguments: [
        ("alice", "alice@origin.example"),
        ("alice@host", "alice@host.example.com"),
        ("alice@host.", "alice@host"),
        ("alice@a..b", "alice@a..b"),
        ("site!user", "user@site.example.com"),
        ("a!b!user", "b!user@a.example.com"),
        ("x%y%z", "x%y@z.example.com"),
        ("u%v@w.example.org", "u%v@w.example.org"),
        ("user@[192.0.2.1]", "user@[192.0.2.1]"),
        ("<@r1,@r2:u@h>", "u@h.example.com"),
        ("\"john doe\"", "\"john doe\"@origin.example"),
        ("\"a b!c\"", "\"a b!c\"@origin.example"),
    ])
    func standardForm(_ input: String, _ expected: String) {
        #expect(Self.rewrite(input) == expected)
    }

    @Test func everySwitchOff() {
        let off = AddressQualifier(appendAtMyorigin: false, appendDotMydomain: false, swapBangpath: false,
                                   allowPercentHack: false, origin: "o.example", domain: "d.example")
        for a in ["alice", "alice@host", "site!user", "x%y"] { #expect(Self.rewrite(a, off) == a) }
    }

    @Test func nullAndLoneAt() {
        #expect(Self.q.rewrite(Mailbox(localPart: "", domain: nil)).isNull)
        #expect(Self.q.rewrite(Mailbox(localPart: "", domain: "")).isNull)
    }

    @Test func remoteContextUsesTheRemoteDomainForBoth() {
        let r = Self.q.remote("remote.example")
        #expect(Self.rewrite("alice", r) == "alice@remote.example")
        #expect(Self.rewrite("alice@host", r) == "alice@host.remote.example")
    }

    @Test func readsPostfixParameterNamesAndDefaults() throws {
        let c = try Configuration(mainCF: "", file: "main.cf",
                                  table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "mx.example.com"))
        let q = try AddressQualifier(configuration: c)
        #expect(q == AddressQualifier(appendAtMyorigin: true, appendDotMydomain: false, swapBangpath: true,
                                      allowPercentHack: true, origin: "mx.example.com", domain: "example.com"))
    }
}

@Suite("rewrite: masquerading")
struct MasqueradeTests {
    @Test func orderAndExceptions() {
        let m = Masquerade(domains: ["!sub.example.com", "example.com"], exceptions: ["Root"])
        #expect(m.masquerade(local: "a", domain: "host.example.com") == "example.com")
        #expect(m.masquerade(local: "a", domain: "deep.host.EXAMPLE.com") == "example.com")
        #expect(m.masquerade(local: "a", domain: "sub.example.com") == nil)
        #expect(m.masquerade(local: "a", domain: "x.sub.example.com") == nil)
        #expect(m.masquerade(local: "a", domain: "example.com") == nil)
        #expect(m.masquerade(local: "a", domain: "notexample.com") == nil)
        #expect(m.masquerade(local: "root", domain: "host.example.com") == nil)
        #expect(m.masquerade(local: "a", domain: "other.org") == nil)
    }

    @Test func nullAndUnqualifiedAreLeftAlone() {
        let m = Masquerade(domains: ["example.com"])
        #expect(m.rewrite(Mailbox(localPart: "", domain: nil)).isNull)
        #expect(m.rewrite(Mailbox(localPart: "a", domain: nil)).domain == nil)
        #expect(m.rewrite(Mailbox(localPart: "a", domain: "h.example.com")).domain == "example.com")
    }
}

import Testing
@testable import Pipeline
@testable import Plugins

@Suite("rewrite: header rewrite scope")
struct HeaderRewriteScopeTests {
    @Test func standardInputIsAlwaysLocal() {
        #expect(HeaderRewriteScope(rules: []).context(client: nil) == .local)
    }

    @Test func permitInetInterfacesMeansLoopbackOrUnixSocket() {
        let s = HeaderRewriteScope()
        #expect(s.context(client: "localhost[127.0.0.1]") == .local)
        #expect(s.context(client: "localhost[::1]") == .local)
        #expect(s.context(client: "local") == .local)
        #expect(s.context(client: "unknown[192.0.2.9]") == nil)
    }

    @Test func remoteDomainAndOtherRules() {
        #expect(HeaderRewriteScope(rules: [], remoteDomain: "r.example").context(client: "localhost[127.0.0.1]") == .remote(domain: "r.example"))
        #expect(HeaderRewriteScope(rules: [.mynetworks]).context(client: "unknown[192.0.2.9]") == .local)
        #expect(HeaderRewriteScope(rules: [.all]).context(client: "unknown[192.0.2.9]") == .local)
    }

    @Test func unknownRuleIsAConfigurationErrorWithFileAndLine() throws {
        let c = try Configuration(mainCF: "\nlocal_header_rewrite_clients = permit_sasl_authenticated\n", file: "/etc/mdad/main.cf",
                                  table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "x.example"))
        #expect {
            try HeaderRewriteScope(configuration: c)
        } throws: { e in
            "\(e)".contains("main.cf") && "\(e)".contains("2") && "\(e)".contains("permit_sasl_authenticated")
        }
    }
}

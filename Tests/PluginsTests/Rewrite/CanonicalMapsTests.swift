import Testing
@testable import Pipeline
@testable import Plugins

@Suite("rewrite: canonical maps")
struct CanonicalMapsTests {
    static func maps(_ text: String, pcre: String? = nil, propagate: Bool = true) throws -> CanonicalMaps {
        var tables: [any LookupTable] = [try InlineTable(argument: "{ " + text + " }", name: "inline:test")]
        if let pcre { tables.append(PCRETable(text: pcre)) }
        return CanonicalMaps(tables: TableList(tables), recipientDelimiter: "+", localDomains: ["local.example"],
                             propagateExtensions: propagate)
    }

    static func map(_ maps: CanonicalMaps, _ address: String, log: (String) -> Void = { _ in }) throws -> String {
        try maps.rewrite(AddressList.parse(address).mailboxes[0], log: log).address
    }

    @Test func lookupOrder() throws {
        let m = try Self.maps("a@x.example=full, a=bare, @x.example=@y.example, b+ext@x.example=withext, b@x.example=noext")
        #expect(try Self.map(m, "A@X.Example") == "full")
        #expect(try Self.map(m, "a@local.example") == "bare")
        #expect(try Self.map(m, "a@other.example") == "a@other.example", "user only for local domains")
        #expect(try Self.map(m, "c@x.example") == "c@y.example", "@domain keeps the user")
        #expect(try Self.map(m, "b+ext@x.example") == "withext")
        #expect(try Self.map(m, "b+other@x.example") == "noext+other", "extension propagated")
    }

    @Test func extensionNotPropagatedWhenSwitchedOff() throws {
        let m = try Self.maps("b@x.example=noext@z.example", propagate: false)
        #expect(try Self.map(m, "b+other@x.example") == "noext@z.example")
    }

    @Test func pcreSeesOnlyTheWholeAddressUnfolded() throws {
        let m = try Self.maps("z=z", pcre: "/^(.*)@pcre\\.example$/ $1@mapped.example\n/^Upper@/ upper-matched@x\n")
        #expect(try Self.map(m, "Someone@pcre.example") == "Someone@mapped.example")
        #expect(try Self.map(m, "Upper@local.example") == "upper-matched@x")
    }

    @Test func nestedResultsAreMappedAgainUpToALimit() throws {
        let m = try Self.maps("a@x=b@x, b@x=c@x, self@x=self@x")
        #expect(try Self.map(m, "a@x") == "c@x")
        #expect(try Self.map(m, "self@x") == "self@x")
        let loop = try Self.maps("p@x=q@x, q@x=p@x")
        #expect(throws: DeliveryStatus.self) { try Self.map(loop, "p@x") }
    }

    @Test func resultWithALineBreakIsRefusedAndLogged() throws {
        // A table that returns a line break (a database row, say) is refused.
        struct Evil: LookupTable {
            let name = "evil:test"
            func lookup(_ key: String) throws(TableError) -> String? { "x@y\r\nBcc: victim@example.com" }
        }
        let m = CanonicalMaps(tables: TableList([Evil()]))
        var log: [String] = []
        #expect(try Self.map(m, "a@b", log: { log.append($0) }) == "a@b")
        #expect(log.count == 1 && log[0].contains("line break"))
    }

    @Test func nullAddressIsNeverLookedUp() throws {
        let m = try Self.maps("@=someone@x")
        #expect(try m.rewrite(Mailbox(localPart: "", domain: nil)).isNull)
    }
}

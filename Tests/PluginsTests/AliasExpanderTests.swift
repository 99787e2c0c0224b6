import Testing
@testable import Pipeline
@testable import Plugins

@Suite("alias expansion (local(8) semantics)")
struct AliasExpanderTests {
    static let aliases = """
        postmaster: root
        root: admin, root
        admin: alice, bob@example.org, "|/usr/bin/logger -t mail", /var/log/mail.copy
        team: alice, carol+work, team-archive
        team-archive: /srv/archive/
        owner-team: alice
        loop1: loop2
        loop2: loop1, dave
        big: :include:/etc/mdad/big.list
        missing: :include:/nonexistent/list
        dup: alice, Alice, alice@mx.example.test
        info: info, helpdesk@example.com
        """

    func expander(files: [String: String] = ["/etc/mdad/big.list": "erin, frank\n# a comment\ngrace\n"],
                  limits: AliasExpander.Limits = .init()) -> AliasExpander {
        let table = TextHashTable(text: Self.aliases.split(separator: "\n").map { line in
            // postalias format: name: value → texthash "name value"
            let parts = line.split(separator: ":", maxSplits: 1)
            return "\(parts[0]) \(parts[1])"
        }.joined(separator: "\n"), name: "test")
        return AliasExpander(tables: TableList([table]), localDomains: ["mx.example.test", "localhost"],
                             recipientDelimiter: "+", myorigin: "mx.example.test", limits: limits,
                             readInclude: { path in
                                 guard let text = files[path] else { throw SystemError("open", path: path, errno: 2) }
                                 return Array(text.utf8)
                             })
    }

    @Test func recursiveExpansionWithEveryKindOfTarget() throws {
        let e = try expander().expand("postmaster@mx.example.test")
        #expect(e.targets == [
            .mailbox("alice"), .forward("bob@example.org"), .command("/usr/bin/logger -t mail", alias: "admin"),
            .file("/var/log/mail.copy", alias: "admin"), .mailbox("root"),
        ])
    }

    @Test func aNameInItsOwnExpansionIsItsMailbox() throws {
        #expect(try expander().expand("info").targets == [.mailbox("info"), .forward("helpdesk@example.com")])
        let loop = try expander().expand("loop1@localhost")
        #expect(loop.targets == [.mailbox("loop1"), .mailbox("dave")])
    }

    @Test func extensionsAndOwners() throws {
        let e = try expander().expand("team+announce@mx.example.test")
        #expect(e.targets == [.mailbox("alice"), .mailbox("carol+work"), .file("/srv/archive/", alias: "team-archive")])
        #expect(e.errorsTo == "owner-team@mx.example.test", "the list's owner, found without the extension")
        #expect(try expander().expand("team@mx.example.test").errorsTo == "owner-team@mx.example.test")
        #expect(try expander().expand("nobody").targets == [.mailbox("nobody")], "not an alias: the mailbox")
        #expect(try expander().expand("someone@remote.example").targets == [.forward("someone@remote.example")])
    }

    @Test func includeFilesDuplicatesAndBounds() throws {
        #expect(try expander().expand("big").targets == [.mailbox("erin"), .mailbox("frank"), .mailbox("grace")])
        #expect(try expander().expand("dup").targets == [.mailbox("alice")], "duplicates are removed")
        do {
            _ = try expander().expand("missing")
            Issue.record("a missing include file must defer")
        } catch {
            #expect(error.status == .temporaryFailure)
            #expect(error.reason.contains("/nonexistent/list"))
        }
        do {
            _ = try expander(limits: .init(results: 2)).expand("postmaster")
            Issue.record("the result bound must hold")
        } catch {
            #expect(error.status.isTemporary)
        }
    }

    @Test func valueItems() {
        #expect(AliasExpander.items("a, \"|/bin/x, y\" , b (comment, here), :include:/f") == ["a", "|/bin/x, y", "b", ":include:/f"])
    }
}

import Testing
@testable import Plugins

@Suite("mdad deliver arguments")
struct DeliverArgumentsTests {
    func options(_ args: [String]) throws -> DeliverOptions {
        guard case .deliver(let o) = try DeliverArguments.parse(args) else {
            Issue.record("expected options for \(args)")
            return DeliverOptions()
        }
        return o
    }

    @Test func dovecotLDAFlags() throws {
        let o = try options(["-c", "/etc/x", "-d", "alice", "-a", "a+x@example.com", "-r", "a@example.com",
                             "-f", "s@example.org", "-m", "Junk", "-e", "-o", "a=1", "-ob=2"])
        #expect(o.configDirectory == "/etc/x")
        #expect(o.destinationUser == "alice")
        #expect(o.originalRecipient == "a+x@example.com")
        #expect(o.finalRecipient == "a@example.com")
        #expect(o.sender == "s@example.org")
        #expect(o.mailbox == "Junk")
        #expect(o.overrides == ["a=1", "b=2"])
    }

    @Test func emptyAndAttachedValues() throws {
        let o = try options(["-f", "", "-dbob", "-m", "-e"])
        #expect(o.sender == "")
        #expect(o.destinationUser == "bob")
        #expect(o.mailbox == "-e", "a value that looks like an option is still the value")
    }

    @Test func help() throws {
        #expect(try DeliverArguments.parse(["--help"]) == .help)
        #expect(try DeliverArguments.parse(["-h"]) == .help)
        #expect(DeliverArguments.usage.contains("-d USER"))
    }

    @Test(arguments: [["-x"], ["-d"], ["--long"], ["stray"], ["-e1"], ["-a", "x", "--", "extra"]])
    func usageErrors(_ args: [String]) {
        #expect(throws: DeliverArguments.UsageError.self) { try DeliverArguments.parse(args) }
    }

    @Test func endOfOptions() throws {
        #expect(try options(["-f", "a@b", "--"]).sender == "a@b")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The engine behind the rules stage: where scripts are found, how a result becomes recipient
/// actions, and the script cache.
@Suite("Sieve engine")
struct SieveEngineTests {
    final class Home {
        let dir = TempDir()
        var path: String { dir.path }
        var user: RulesUser { RulesUser(name: "bob", home: path, uid: getuid(), gid: getgid(), mailbox: nil,
                                        address: "bob@example.com", recipientDelimiter: "+") }

        func write(_ name: String, _ text: String) throws {
            let p = path + "/" + name
            let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { close(fd) }
            try Posix.writeAll(fd, Array(text.utf8), path: p)
        }

        func engine(_ mainCF: String = "") throws -> SieveEngine {
            let config = try Configuration(mainCF: "myhostname = mx.example.com\n" + mainCF, file: "main.cf",
                                           table: StageRegistry.builtin.parameterTable)
            return try SieveEngine(configuration: config)
        }

        func run(_ engine: SieveEngine, _ message: String = "From: alice@example.org\nTo: bob@example.com\nSubject: hello\nMessage-ID: <h@x>\n\nhi\n",
                 userScript: Bool = true, log: TestLog = TestLog()) async throws -> Recipient {
            let tx = try Transaction.literal(message, from: "alice@example.org", to: ["bob@example.com"])
            var r = tx.recipients[0]
            _ = try await engine.run(&r, of: tx, user: user, userScript: userScript,
                                     context: StageContext.forTesting(log: log))
            return r
        }
    }

    @Test func findsTheUsersScriptAndTheDefault() throws {
        let home = Home()
        let engine = try home.engine()
        #expect(!engine.hasUserScript(for: home.user))
        try home.write(".dovecot.sieve", "keep;")
        #expect(engine.hasUserScript(for: home.user))
        let other = Home()
        try other.write("default.sieve", "keep;")
        #expect(try home.engine("sieve = ~/nothere.sieve\nsieve_default = \(other.path)/default.sieve").hasUserScript(for: home.user))
        #expect(SieveEngine.expand("/var/sieve/%d/%n.sieve", for: home.user) == "/var/sieve/example.com/bob.sieve")
        #expect(SieveEngine.expand("/var/sieve/%x", for: home.user) == nil)
    }

    @Test func asRootOnlyTheUsersOwnFileIsTheirScript() throws {
        guard geteuid() == 0 else { return }
        let home = Home()
        try home.write(".dovecot.sieve", "keep;")
        #expect(try home.engine().hasUserScript(for: home.user))
        chown(home.path + "/.dovecot.sieve", 65534, 65534)
        #expect(!(try home.engine().hasUserScript(for: home.user)), "a file of another user's is not this user's script")
    }

    @Test func resultBecomesRecipientActions() async throws {
        let home = Home()
        try home.write(".dovecot.sieve", """
            require ["fileinto", "imap4flags", "enotify", "editheader"];
            addheader "X-Seen-By" "sieve";
            fileinto :flags ["\\\\Seen", "\\\\Bogus", "work"] "Work";
            redirect "carol@example.net";
            notify :message "new mail" "mailto:pager@example.net";
            """)
        let r = try await home.run(try home.engine())
        #expect(r.actions.count == 3)
        #expect(r.actions[0] == .store(folder: "Work", flags: ["\\seen", "work"]))
        #expect(r.actions[1] == .redirect(to: "carol@example.net", sender: nil))
        guard case .send(let n) = r.actions[2] else { Issue.record("no notification"); return }
        #expect(n.sender == "")
        #expect(n.recipients == ["pager@example.net"])
        #expect(String(decoding: n.data, as: UTF8.self).contains("Subject: new mail\n"))
        #expect(r.replacedMessage?.message.header["X-Seen-By"]?.value == "sieve")
    }

    @Test func discardRejectAndTheImplicitKeep() async throws {
        let home = Home()
        let engine = try home.engine()
        try home.write(".dovecot.sieve", "discard;")
        #expect(try await home.run(engine).actions == [.discard])
        try home.write(".dovecot.sieve", "require \"imap4flags\"; addflag \"\\\\Flagged\";")
        #expect(try await home.run(engine).actions == [.store(folder: nil, flags: ["\\flagged"])])
        try home.write(".dovecot.sieve", "require \"reject\"; reject \"Not here.\";")
        let rejected = try await home.run(engine)
        #expect(rejected.state == .rejected(DeliveryStatus(EnhancedStatus(5, 7, 1), "Not here.", reason: "rejected by sieve script")))
        // A folder that cannot be a Maildir++ folder goes to INBOX instead.
        try home.write(".dovecot.sieve", "require \"fileinto\"; fileinto \"../../etc\";")
        #expect(try await home.run(engine).actions == [.store(folder: nil, flags: [])])
    }

    @Test func brokenScriptsKeepAndSayWhy() async throws {
        let home = Home()
        let engine = try home.engine()
        let log = TestLog()
        try home.write(".dovecot.sieve", "require \"fileinto\";\nfileinto \"a\"\n")
        #expect(try await home.run(engine, log: log).actions.isEmpty)
        #expect(log.lines.contains { $0.contains(".dovecot: line 3, column 1: error") }, "\(log.lines)")
        try home.write(".dovecot.sieve", "require \"reject\"; keep; reject \"x\";")
        #expect(try await home.run(engine, log: log).actions.isEmpty)
        #expect(log.lines.contains { $0.contains("runtime error") })
    }

    @Test func globalScriptsRunWithoutTheUsersOwn() async throws {
        let home = Home()
        try home.write("before.sieve", "require \"imap4flags\"; addflag \"global\";")
        try home.write(".dovecot.sieve", "require \"fileinto\"; fileinto \"Mine\";")
        let engine = try home.engine("sieve_before = \(home.path)/before.sieve")
        // procmail chose this user: only the global script runs.
        #expect(try await home.run(engine, userScript: false).actions == [.store(folder: nil, flags: ["global"])])
        #expect(try await home.run(engine).actions == [.store(folder: "Mine", flags: ["global"])])
    }

    @Test func cacheRecompilesWhenTheScriptOrAnIncludeChanges() throws {
        let home = Home()
        mkdir(home.path + "/sieve", 0o755)
        try home.write("main.sieve", "require \"include\"; include :optional \"part\";")
        let cache = SieveScriptCache()
        let locations = SieveIncludeLocations(personal: home.path + "/sieve", global: nil)
        let first = try #require(try cache.program(at: home.path + "/main.sieve", includes: locations))
        #expect(first.library.isEmpty)
        try home.write("sieve/part.sieve", "discard;")
        let second = try #require(try cache.program(at: home.path + "/main.sieve", includes: locations))
        #expect(second.library.count == 1, "a new include file is picked up")
        try home.write("main.sieve", "keep;\n# a longer script now\n")
        let third = try #require(try cache.program(at: home.path + "/main.sieve", includes: locations))
        #expect(third.library.isEmpty)
        #expect(try cache.program(at: home.path + "/none.sieve", includes: locations) == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The procmail rules engine as the `rules` stage runs it: actions recorded, not carried out.
@Suite("procmail rules engine")
struct ProcmailEngineTests {
    /// Commands that do not read their input (a backquoted `echo`) close the pipe early: as
    /// in mdad's own processes (prepareProcess), that must be EPIPE, not a killed test process.
    init() { signal(SIGPIPE, SIG_IGN) }

    func user(_ home: String) -> RulesUser {
        let target = MailboxTarget(kind: .system, owner: "bob", uid: geteuid(), gid: getegid(),
                                   path: home + "/Maildir", format: .maildir, user: nil)
        return RulesUser(name: "bob", home: home, uid: geteuid(), gid: getegid(), mailbox: target,
                         address: "bob@example.net", recipientDelimiter: "+")
    }

    func run(_ rc: String?, message: String) async throws -> (Recipient, TempDir) {
        let dir = TempDir()
        if let rc { try Posix.writeAll(open(dir.path + "/.procmailrc", O_WRONLY | O_CREAT, 0o600), Array(rc.utf8)) }
        let engine = ProcmailEngine(userRC: "~/.procmailrc", globalRC: "", commandTimeout: 10, hostName: "mx.example.net")
        let tx = try Transaction.literal(message, from: "alice@example.org", to: ["bob@example.net"])
        var r = tx.recipients[0]
        let u = user(dir.path)
        #expect(engine.hasUserScript(for: u) == (rc != nil))
        _ = try await engine.run(&r, of: tx, user: u, userScript: engine.hasUserScript(for: u), context: .forTesting())
        return (r, dir)
    }

    @Test func actionsAreRecordedForTheBackends() async throws {
        let (r, dir) = try await run("""
            :0 c
            * ^List-Id:.*<\\/[a-z]+
            lists/$MATCH/
            :0 c
            ! archive@example.org
            :0 c
            | /usr/bin/logger got mail
            :0
            * ^Subject:.*spam
            /dev/null
            :0
            saved
            """, message: "From: alice@example.org\nList-Id: <dev.lists.example.org>\nSubject: hi\n\nbody\n")
        #expect(r.actions == [.file(path: dir.path + "/lists/dev", format: .maildir),
                              .redirect(to: "archive@example.org", sender: nil),
                              .pipe(command: "/usr/bin/logger got mail"),
                              .file(path: dir.path + "/saved", format: .mbox)])
        #expect(r.replacedMessage == nil)
    }

    @Test func defaultIsTheImplicitKeepAndFiltersReplaceTheMessage() async throws {
        let (r, _) = try await run("""
            :0 fhw
            | sed -e 's/^Subject: /Subject: [tagged] /'
            """, message: "From: alice@example.org\nSubject: hi\n\nbody\n")
        #expect(r.actions == [.store(folder: nil, flags: [])])
        let m = try #require(r.replacedMessage?.message)
        #expect(m.header["Subject"]?.value.contains("[tagged] hi") == true)
        var sink = BufferSink()
        try m.write(to: &sink)
        #expect(!String(decoding: sink.bytes, as: UTF8.self).hasPrefix("From "), "the From_ line is procmail's, not the message's")
    }

    @Test func discardAndExitCodes() async throws {
        let (r, _) = try await run("DELIVERED=yes\n", message: "Subject: x\n\nb\n")
        #expect(r.actions == [.discard])
        let (r2, _) = try await run("EXITCODE=75\n", message: "Subject: x\n\nb\n")
        #expect(r2.state.status?.status.isTemporary == true)
        let (r3, _) = try await run("EXITCODE=67\n", message: "Subject: x\n\nb\n")
        if case .rejected = r3.state {} else { Issue.record("EXITCODE=67 rejects: \(r3.state)") }
    }

    @Test func noRcMeansNoScriptAndABrokenOneKeepsTheMail() async throws {
        let (r, _) = try await run(nil, message: "Subject: x\n\nb\n")
        #expect(r.actions.isEmpty && r.isPending)
        let (r2, _) = try await run(":0\n* (unclosed\nx\n", message: "Subject: x\n\nb\n")
        #expect(r2.actions.isEmpty && r2.isPending, "a broken rc falls back to the mailbox")
    }

    @Test func registeredWithTheRulesStage() {
        #expect(RulesEngineRegistry.builtin.factories["procmail"] != nil)
        let names = RulesEngineRegistry.builtin.parameters.map(\.name)
        #expect(names.contains("procmail_user_rc") && names.contains("procmail_global_rc"))
    }
}

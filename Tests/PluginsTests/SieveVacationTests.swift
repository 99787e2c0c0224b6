#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline
@testable import Plugins

/// Vacation (RFC 5230) with RFC 3834's rules, and the response store behind it.
@Suite("Sieve vacation")
struct SieveVacationTests {
    static let user = RulesUser(name: "bob", home: nil, uid: 1000, gid: 1000, mailbox: nil,
                                address: "bob@example.com", recipientDelimiter: "+")

    static func vacation(_ script: String = "require \"vacation\"; vacation :days 2 :subject \"Away\" \"Back soon.\";") throws -> SieveVacation {
        let r = try SieveRun.run(script, environment: SieveRun.environment(recipient: "bob@example.com"))
        guard case .vacation(let v)? = r.actions.first else { throw SieveRuntimeError("no vacation action") }
        #expect(r.implicitKeep, "vacation keeps the message")
        return v
    }

    static func reply(_ v: SieveVacation, headers: String = "", sender: String = "alice@example.org",
                      store: SieveResponseStore, now: Int = 1_700_000_000) throws -> String? {
        let m = try Message.parse(Spool(bytes: Array((headers + "From: alice@example.org\nTo: Bob <bob@example.com>\nSubject: Lunch?\nMessage-ID: <q@example.org>\n\nhi\n").utf8)))
        var log: [String] = []
        let out = SieveVacationReply.make(v, message: m, sender: sender, user: user, recipient: Recipient(address: "bob@example.com"),
                                          hostName: "mx.example.com", store: store, now: now, log: { log.append($0) })
        return out.map { String(decoding: $0.data, as: UTF8.self) }
    }

    @Test func periodsHandleAndDefaults() throws {
        let v = try Self.vacation()
        #expect(v.seconds == 2 * 86_400)
        #expect(v.handle == "Back soon.Away<default-from><NO-MIME>")
        #expect(try Self.vacation("require \"vacation\"; vacation :days 0 \"x\";").seconds == 86_400, "clamped to sieve_vacation_min_period")
        #expect(try Self.vacation("require \"vacation\"; vacation :days 365 \"x\";").seconds == 60 * 86_400)
        #expect(try Self.vacation("require \"vacation\"; vacation \"x\";").seconds == 7 * 86_400)
        #expect(try Self.vacation("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 100000 \"x\";").seconds == 100_000)
        #expect(SieveRun.compileError("require \"vacation\"; vacation :seconds 5 \"x\";") != nil, "needs vacation-seconds")
        #expect(throws: SieveRuntimeError.self) { _ = try SieveRun.run("require \"vacation\"; vacation \"a\"; vacation \"b\";") }
    }

    @Test func replyHasRFC3834HeadersAndGoesOncePerPeriod() throws {
        let dir = TempDir()
        let store = SieveResponseStore(path: dir.path + "/responses")
        let v = try Self.vacation()
        let text = try #require(try Self.reply(v, store: store))
        #expect(text.contains("To: <alice@example.org>\n"))
        #expect(text.contains("Subject: Away\n"))
        #expect(text.contains("In-Reply-To: <q@example.org>\n"))
        #expect(text.contains("Auto-Submitted: auto-replied (vacation)\n"))
        #expect(text.hasSuffix("\n\nBack soon.\n"))
        #expect(try Self.reply(v, store: store, now: 1_700_000_000 + 86_400) == nil, "within :days 2")
        #expect(try Self.reply(v, store: store, now: 1_700_000_000 + 3 * 86_400) != nil, "after the period")
        #expect(try Self.reply(v, sender: "carol@example.org", store: store) != nil, "another sender")
    }

    @Test func neverToListsRobotsOrTheNullSender() throws {
        let dir = TempDir()
        let store = SieveResponseStore(path: dir.path + "/responses")
        let v = try Self.vacation()
        #expect(try Self.reply(v, sender: "", store: store) == nil)
        #expect(try Self.reply(v, sender: "MAILER-DAEMON@example.org", store: store) == nil)
        #expect(try Self.reply(v, sender: "owner-list@example.org", store: store) == nil)
        #expect(try Self.reply(v, sender: "list-request@example.org", store: store) == nil)
        #expect(try Self.reply(v, headers: "List-Id: <l.example.org>\n", store: store) == nil)
        #expect(try Self.reply(v, headers: "Auto-Submitted: auto-generated\n", store: store) == nil)
        #expect(try Self.reply(v, headers: "Precedence: bulk\n", store: store) == nil)
        #expect(try Self.reply(v, sender: "bob@example.com", store: store) == nil, "not to oneself")
        // Not addressed to the user: no reply (RFC 5230 4.5).
        let other = try Message.parse(Spool(bytes: Array("From: alice@example.org\nTo: team@example.com\n\nx\n".utf8)))
        #expect(SieveVacationReply.suppression(v, message: other, sender: "alice@example.org", userAddresses: ["bob@example.com"]) != nil)
        #expect(SieveVacationReply.suppression(v, message: other, sender: "alice@example.org", userAddresses: ["bob@example.com", "team@example.com"]) == nil)
        #expect(try Self.reply(v, headers: "Auto-Submitted: no\n", store: store) != nil)
    }

    @Test func mimeReasonAndEncodedSubject() throws {
        let dir = TempDir()
        let store = SieveResponseStore(path: dir.path + "/responses")
        let v = try Self.vacation("require \"vacation\"; vacation :mime :subject \"Abwesend – Grüße\" text:\nContent-Type: text/plain; charset=utf-8\n\nBin weg.\n.\n;")
        let text = try #require(try Self.reply(v, store: store))
        #expect(text.contains("Subject: =?UTF-8?B?"))
        #expect(text.contains("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nBin weg.\n"))
    }
}

import Foundation
import Testing

/// The rewrite stage through the built binary: `mdad deliver` (a message on standard input,
/// whose headers are always rewritten), with main.cf and tables in a sandbox.
@Suite("rewrite stage end to end (mdad deliver)")
struct RewriteDeliverTests {
    static let recipient = "bob@example.com"

    static func sandbox(_ extra: String = "") throws -> Sandbox {
        let box = try Sandbox(mainCF: """
            mydomain = example.com
            myorigin = $mydomain
            pipeline = rewrite
            masquerade_domains = example.com
            canonical_maps = texthash:CONFIG/canonical
            header_checks = pcre:CONFIG/header_checks
            body_checks = pcre:CONFIG/body_checks

            """ + extra)
        let config = box.config.path
        let main = box.config.appendingPathComponent("main.cf")
        let text = try String(contentsOf: main, encoding: .utf8).replacingOccurrences(of: "CONFIG", with: config)
        try text.write(to: main, atomically: true, encoding: .utf8)
        try "old@example.com  new@example.com\n".write(toFile: config + "/canonical", atomically: true, encoding: .utf8)
        try """
            /^Subject: reject me/    REJECT no thanks
            /^Subject: later/        REJECT 4.7.0 try again later
            /^Subject: discard me/   DISCARD
            /^Subject: hold me/      HOLD
            /^X-Drop:/               IGNORE
            /^X-Old: (.*)/           REPLACE X-New: $1
            /^X-Pre:/                PREPEND X-Added: by header_checks
            /^X-Warn:/               WARN looked at
            /^X-Info:/               INFO noted
            /^X-Dunno:/              DUNNO
            /^X-Ok:/                 OK

            """.write(toFile: config + "/header_checks", atomically: true, encoding: .utf8)
        try "/^forbidden line$/ REJECT body refused\n".write(toFile: config + "/body_checks", atomically: true, encoding: .utf8)
        return box
    }

    static func deliver(_ box: Sandbox, _ message: String, sender: String = "alice") throws -> MDAD.Result {
        try box.deliver(["-f", sender, "-a", recipient], input: Data(message.utf8))
    }

    static func stored(_ box: Sandbox) throws -> String {
        let files = box.files("new")
        try #require(files.count == 1, "expected one stored message, found \(files.count)")
        return try String(contentsOf: files[0], encoding: .utf8)
    }

    @Test func addressesAreRewrittenAsPostfixWould() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: Alice <alice>\nTo: old@example.com, carol@host.example.com\nCc: (unchanged)  x@example.org\nSubject: hi\n\nbody\n")
        #expect(r.status == 0, "\(r.stderr)")
        let text = try Self.stored(box)
        #expect(text.contains("\nFrom: Alice <alice@example.com>\nTo: new@example.com, carol@example.com\nCc: (unchanged)  x@example.org\nSubject: hi\n"), "\(text)")
        #expect(text.hasPrefix("Return-Path: <alice@example.com>\n"), "the envelope sender is rewritten too: \(text.prefix(80))")
    }

    @Test func rejectIs77With571AndTheText() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nSubject: reject me\n\nbody\n")
        #expect(r.status == 77)
        #expect(r.firstErrorLine == "5.7.1 no thanks", "\(r.stderr)")
        #expect(r.stderr.contains("reject: header Subject: reject me"), "\(r.stderr)")
        #expect(box.files("new").isEmpty)
    }

    @Test func rejectWithA4xxCodeDefers() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nSubject: later\n\nbody\n")
        #expect(r.status == 75)
        #expect(r.firstErrorLine == "4.7.0 try again later", "\(r.stderr)")
    }

    @Test func discardStoresNothingAndSucceeds() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nSubject: discard me\n\nbody\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(box.files("new").isEmpty)
        #expect(r.stderr.contains("discard: header Subject: discard me"), "\(r.stderr)")
    }

    @Test func holdDefersSoPostfixKeepsTheMessage() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nSubject: hold me\n\nbody\n")
        #expect(r.status == 75)
        #expect(r.firstErrorLine.hasPrefix("4.7.1 "), "\(r.stderr)")
        #expect(box.files("new").isEmpty)
    }

    @Test func ignoreReplacePrependWarnInfoDunnoOk() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nX-Drop: gone\nX-Old: value\nX-Pre: p\nX-Warn: w\nX-Info: i\nX-Dunno: d\nX-Ok: o\nSubject: s\n\nbody\n")
        #expect(r.status == 0, "\(r.stderr)")
        let text = try Self.stored(box)
        #expect(text.contains("\nFrom: a@example.com\nX-New: value\nX-Added: by header_checks\nX-Pre: p\nX-Warn: w\nX-Info: i\nX-Dunno: d\nX-Ok: o\nSubject: s\n\nbody\n"), "\(text)")
        #expect(r.stderr.contains("warning: header X-Warn: w"), "\(r.stderr)")
        #expect(r.stderr.contains("info: header X-Info: i"), "\(r.stderr)")
    }

    @Test func bodyChecksRejectALine() throws {
        let box = try Self.sandbox()
        let r = try Self.deliver(box, "From: a@example.com\nSubject: s\n\nfine\nforbidden line\n")
        #expect(r.status == 77)
        #expect(r.firstErrorLine == "5.7.1 body refused", "\(r.stderr)")
    }

    @Test func badTableIsAConfigurationErrorThatDefers() throws {
        let box = try Self.sandbox("canonical_classes = envelope_sender, nonsense\n")
        let r = try Self.deliver(box, "From: a@example.com\n\nbody\n")
        #expect(r.status == 75)
        #expect(r.stderr.contains("main.cf") && r.stderr.contains("nonsense"), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
    }
}

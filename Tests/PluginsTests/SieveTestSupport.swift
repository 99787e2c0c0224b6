@testable import Pipeline
@testable import Plugins

/// Compiles and runs scripts over small messages, for the Sieve suites.
enum SieveRun {
    static let message = """
        Return-Path: <alice@example.org>
        Received: from a.example by b.example; Tue, 1 Jul 2003 10:52:37 +0200
        Received: from c.example by a.example; Tue, 1 Jul 2003 10:52:36 +0200
        From: Alice Example <alice@example.org>
        To: Bob <bob+lists@example.com>, carol@example.net
        Subject: [devel] Meeting tomorrow
        Date: Tue, 1 Jul 2003 10:52:37 +0200
        Message-ID: <m1@example.org>
        X-Spam-Score: 7

        Hello Bob,
        the budget is due.

        """

    static func program(_ script: String, includes: SieveIncludeLocations = .init(personal: nil, global: nil)) throws -> SieveProgram {
        try SieveLoader.compile(Array(script.utf8), name: "test", includes: includes)
    }

    static func environment(sender: String = "alice@example.org", recipient: String = "bob+lists@example.com") -> SieveEnvironment {
        SieveEnvironment(sender: sender, recipient: recipient, recipientDelimiter: "+", now: 1_700_000_000)
    }

    static func run(_ script: String, message text: String = message, environment: SieveEnvironment = environment(),
                    includes: SieveIncludeLocations = .init(personal: nil, global: nil)) throws -> SieveResult {
        let m = try Message.parse(Spool(bytes: Array(text.utf8)))
        return try SieveInterpreter(program: try program(script, includes: includes), message: m, environment: environment).run()
    }

    /// The folders stored into, in order; "keep" shows as INBOX, the implicit keep as "(keep)".
    static func folders(_ r: SieveResult) -> [String] {
        var out: [String] = []
        for a in r.actions { if case .store(let f, _, _, _) = a { out.append(f) } }
        if r.implicitKeep { out.append("(keep)") }
        return out
    }

    static func compileError(_ script: String) -> SieveError? {
        do { _ = try program(script); return nil } catch let e as SieveError { return e } catch { return nil }
    }
}

import Foundation
import Testing
@testable import Pipeline
@testable import Plugins

/// Pigeonhole judges mdad's Sieve: generated scripts and messages go through Pigeonhole's own
/// `sieve-test` (dovecot-sieve, with a dovecot.conf in a temporary directory) and through
/// mdad's engine; the listed actions — folders, flags, redirects, rejects, vacation,
/// notifications, implicit keep — must be the same.
@Suite("Sieve against Pigeonhole", .serialized)
struct SieveDifferentialTests {
    /// A deterministic generator (the same pairs every run, so a difference can be chased).
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func pick<T>(_ a: [T]) -> T { a[Int(next() % UInt64(a.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
    }

    static let messages: [String] = [
        """
        From: Alice Example <alice@example.org>
        To: Bob <bob+lists@example.com>, carol@example.net
        Cc: dave@example.com
        Subject: Meeting tomorrow about the budget
        Date: Tue, 1 Jul 2003 10:52:37 +0200
        Message-ID: <m1@example.org>

        Hello Bob,
        can we meet tomorrow at ten? The budget is due.
        Alice

        """,
        """
        From: "Mailing List" <owner-devel@lists.example.org>
        To: devel@lists.example.org
        Subject: [devel] Patch: fix the parser (v2)
        List-Id: Developers <devel.lists.example.org>
        Precedence: list
        Date: Sat, 15 Mar 2025 23:10:00 -0500
        Message-ID: <m2@lists.example.org>
        X-Spam-Score: 7

        This patch fixes the parser.
        --
        devel mailing list

        """,
        """
        From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
        To: bob@example.com
        Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin?=
        Date: Mon, 2 Dec 2024 08:00:00 +0100
        Message-ID: <m3@example.de>
        X-Priority: 1

        Viele Gruesse aus Berlin.

        """,
        """
        From: billing@shop.example
        To: bob@example.com
        Subject: Your invoice 12345
        Date: Wed, 10 Jan 2024 12:00:00 +0000
        Message-ID: <m4@shop.example>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="XYZ"
        X-Spam-Score: 3

        --XYZ
        Content-Type: text/plain; charset=us-ascii

        Please find your invoice attached. Total: 99 EUR.
        --XYZ
        Content-Type: application/pdf; name="invoice.pdf"
        Content-Transfer-Encoding: base64

        JVBERi0xLjQK
        --XYZ--

        """,
        """
        From: MAILER-DAEMON@mx.example.com
        To: bob@example.com
        Subject: Undelivered Mail Returned to Sender
        Auto-Submitted: auto-replied
        Date: Thu, 4 Apr 2024 04:04:04 +0000
        Message-ID: <m5@mx.example.com>

        This is the mail system at host mx.example.com.

        """,
        """
        From: eve@evil.example
        To: undisclosed-recipients:;
        Subject: WIN A PRIZE NOW!!! Free money
        Date: Fri, 13 Sep 2024 13:13:13 +0300
        X-Spam-Flag: YES
        X-Spam-Score: 15
        Received: from a.example by b.example; Fri, 13 Sep 2024 13:13:13 +0300
        Received: from c.example by a.example; Fri, 13 Sep 2024 13:13:12 +0300

        Click here to claim your free money: http://evil.example/claim

        """,
        """
        From: bob@example.com
        To: bob@example.com
        Subject: note to self
        Message-ID: <m7@example.com>

        remember the milk

        """,
    ]

    static let senders = ["alice@example.org", "owner-devel@lists.example.org", "juergen@example.de",
                          "billing@shop.example", "MAILER-DAEMON@mx.example.com", "eve@evil.example", "bob@example.com"]

    static let capabilities = ["fileinto", "envelope", "reject", "variables", "imap4flags", "body", "relational",
                               "subaddress", "copy", "regex", "mailbox", "date", "index", "vacation", "enotify",
                               "comparator-i;ascii-numeric", "editheader", "encoded-character"]

    static func test(_ g: inout Generator, depth: Int = 0) -> String {
        let matchType = g.pick([":is", ":contains", ":matches", ":contains", ":is"])
        let comparator = g.chance(20) ? " :comparator \"i;octet\"" : ""
        let words = ["budget", "Patch", "patch", "invoice", "prize", "*", "*e*", "[devel]*", "Gr\u{FC}\u{DF}e*", "note to self",
                     "Meeting tomorrow about the budget", "", "?ote*", "*money", "WIN*"]
        switch g.next() % 22 {
        case 0, 1:
            return "header \(matchType)\(comparator) \"subject\" \"\(g.pick(words))\""
        case 2:
            return "header \(matchType) [\"from\", \"to\"] [\"\(g.pick(["alice", "bob", "example.com", "*@example.*", "devel*"]))\", \"\(g.pick(words))\"]"
        case 3:
            return "address \(g.pick([":all", ":localpart", ":domain", ""])) \(matchType) \"\(g.pick(["from", "to", "cc"]))\" \"\(g.pick(["alice@example.org", "example.com", "bob", "devel", "*.example", "example.*", "juergen"]))\""
        case 4:
            return "address \(g.pick([":user", ":detail"])) \"to\" \"\(g.pick(["bob", "lists", "devel", "carol"]))\""
        case 5:
            return "envelope \(g.pick([":all", ":localpart", ":domain"])) \(matchType) \"from\" \"\(g.pick(["alice@example.org", "example.de", "billing", "", "*", "eve*"]))\""
        case 6:
            return "exists \(g.pick(["\"list-id\"", "[\"from\", \"date\"]", "\"x-spam-flag\"", "\"auto-submitted\"", "\"x-nothere\""]))"
        case 7:
            return "size \(g.pick([":over", ":under"])) \(g.pick(["100", "300", "1K", "500", "2K"]))"
        case 8:
            return "body \(g.pick([":text", ":raw", ""])) :contains \"\(g.pick(["budget", "milk", "invoice", "free money", "patch", "JVBERi"]))\""
        case 9:
            return "header :count \"\(g.pick(["ge", "lt", "eq", "gt"]))\" :comparator \"i;ascii-numeric\" \"\(g.pick(["received", "to", "x-nothere"]))\" \"\(g.pick(["1", "2", "0"]))\""
        case 10:
            return "header :value \"\(g.pick(["ge", "lt", "gt", "le"]))\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"\(g.pick(["5", "10", "3"]))\""
        case 11:
            return "header :regex \"subject\" \"\(g.pick(["^\\\\[devel\\\\]", "[0-9]{5}", "^(win|free)", "budget$", "b.dget"]))\""
        case 12:
            return "date :value \"\(g.pick(["ge", "lt"]))\" :originalzone \"date\" \"\(g.pick(["year", "month", "hour", "weekday"]))\" \"\(g.pick(["2024", "06", "12", "3"]))\""
        case 13:
            return "address :all :comparator \"i;ascii-casemap\" :is \"from\" \"\(g.pick(["ALICE@example.org", "bob@example.com", "billing@shop.example"]))\""
        case 14:
            return "header :index \(g.pick(["1", "2"])) \(g.pick(["", ":last "]))\(matchType) \"received\" \"\(g.pick(["*a.example*", "*", "from c*"]))\""
        case 15:
            return depth < 2 ? "not \(test(&g, depth: depth + 1))" : "true"
        case 16:
            return depth < 2 ? "allof (\(test(&g, depth: depth + 1)), \(test(&g, depth: depth + 1)))" : "false"
        case 17:
            return depth < 2 ? "anyof (\(test(&g, depth: depth + 1)), \(test(&g, depth: depth + 1)))" : "true"
        case 18:
            return "hasflag :contains \"\(g.pick(["\\\\Seen", "work", "junk"]))\""
        case 19:
            return "string :is \"${sub}\" \"\(g.pick(["", "Meeting tomorrow about the budget", "note to self"]))\""
        case 20:
            return "mailboxexists \"\(g.pick(["INBOX", "Nothere"]))\""
        default:
            return "envelope :detail \"to\" \"\(g.pick(["lists", "work", ""]))\""
        }
    }

    static func action(_ g: inout Generator) -> String {
        let folders = ["Work", "Lists.devel", "Junk", "INBOX", "Archive/2024", "Sp\u{E4}m"]
        switch g.next() % 18 {
        case 0, 1: return "fileinto \"\(g.pick(folders))\";"
        case 2: return "fileinto :copy \"\(g.pick(folders))\";"
        case 3: return "fileinto :flags \"\(g.pick(["\\\\Seen", "\\\\Flagged work", "junk"]))\" \"\(g.pick(folders))\";"
        case 4: return "keep;"
        case 5: return "keep :flags [\"\(g.pick(["\\\\Answered", "a", "\\\\Seen"]))\", \"\(g.pick(["b", "\\\\Draft", "\\\\Deleted"]))\"];"
        case 6: return "discard;"
        case 7: return "redirect \"\(g.pick(["carol@example.net", "dave@example.com"]))\";"
        case 8: return "redirect :copy \"\(g.pick(["carol@example.net", "erin@example.org"]))\";"
        case 9: return "\(g.pick(["addflag", "setflag", "removeflag"])) \"\(g.pick(["\\\\Seen", "work", "\\\\Flagged junk", "Work"]))\";"
        case 10: return "stop;"
        case 11: return "reject \"\(g.pick(["Go away.", "Not wanted here"]))\";"
        case 12: return "vacation \(g.pick(["", ":days 3 ", ":subject \"Away\" ", ":days 1 :from \"bob@example.com\" "]))\"\(g.pick(["I am away.", "Back on Monday."]))\";"
        case 13: return "if header :matches \"subject\" \"*: *\" { fileinto \"${1}\"; }"
        case 14: return "fileinto :create \"\(g.pick(folders))\";"
        case 15: return "notify :message \"\(g.pick(["new mail", "urgent"]))\" \"mailto:\(g.pick(["bob@example.com", "pager@example.net"]))\";"
        case 16: return "set :\(g.pick(["lower", "upper", "length"])) \"f\" \"${sub}\"; fileinto \"Tag.${f}\";"
        default: return "addheader \"X-Sieve\" \"seen\"; deleteheader \"x-priority\";"
        }
    }

    static func script(_ g: inout Generator) -> String {
        var s = "require [\(capabilities.map { "\"\($0)\"" }.joined(separator: ", "))];\n"
        s += "set \"sub\" \"\";\nif header :matches \"subject\" \"*\" { set \"sub\" \"${1}\"; }\n"
        let rules = 1 + Int(g.next() % 5)
        for _ in 0..<rules {
            if g.chance(25) {
                s += action(&g) + "\n"
            } else {
                s += "if \(test(&g)) {\n  \(action(&g))\n"
                if g.chance(40) { s += "  \(action(&g))\n" }
                s += "}"
                if g.chance(30) { s += " elsif \(test(&g)) {\n  \(action(&g))\n}" }
                if g.chance(30) { s += " else {\n  \(action(&g))\n}" }
                s += "\n"
            }
        }
        return s
    }

    static func runPigeonhole(_ dir: URL, config: URL, script: URL, message: URL, sender: String, recipient: String,
                              mailbox: String) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sieve-test")
        p.arguments = ["-c", config.path, "-f", sender.isEmpty ? "<>" : sender, "-r", recipient, "-m", mailbox, script.path, message.path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.environment = ["PATH": "/usr/bin:/bin", "LANG": "C"]
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // Pigeonhole itself crashing (it does, on some include sequences) is no verdict.
        if p.terminationReason == .uncaughtSignal { return (-p.terminationStatus, "") }
        if p.terminationStatus == 89 { return (89, compileErrorLine(String(decoding: errors, as: UTF8.self))) }
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// mdad's answer in the same shape: the listing, or nothing with status 1 (run-time
    /// error) or 89 (compile error).
    static func runMdad(script: String, name: String, message: String, sender: String, recipient: String,
                        includes: SieveIncludeLocations = SieveIncludeLocations(personal: nil, global: nil),
                        mailbox: String = "INBOX") -> (Int32, String) {
        let program: SieveProgram
        do { program = try SieveLoader.compile(Array(script.utf8), name: name, includes: includes) }
        catch { return (89, compileErrorLine(error.description)) }
        guard let msg = try? Message.parse(Spool(bytes: Array(message.utf8))) else { return (74, "") }
        var env = SieveEnvironment(sender: sender, recipient: recipient, recipientDelimiter: "+", now: Int(Date().timeIntervalSince1970))
        env.defaultMailbox = mailbox
        do {
            let r = try SieveInterpreter(program: program, message: msg, environment: env).run()
            return (0, SieveResultPrinter.format(r, defaultMailbox: mailbox))
        } catch {
            return (1, "")
        }
    }

    /// Runs `pairs` generated pairs through both and returns (agreeing, differences).
    static func compare(pairs: Int, seed: UInt64, messages: [String] = messages, senders: [String] = senders,
                        library: [String: String] = [:],
                        script make: (inout Generator) -> String) throws -> (Int, [String], Int) {
        var outcomes: [Int32: Int] = [:]
        defer {
            print("Sieve differential outcomes (Pigeonhole's exit status: pairs): " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "listed" : $0.key == 1 ? "run-time error" : $0.key == 89 ? "compile error" : $0.key < 0 ? "crashed" : "exit \($0.key)"): \($0.value)" }.joined(separator: ", "))
        }
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-sieve-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("home"), withIntermediateDirectories: true)
        // SIEVE_DIFF_KEEP=1 keeps the scripts and messages for chasing a difference by hand.
        defer { if ProcessInfo.processInfo.environment["SIEVE_DIFF_KEEP"] == nil { try? FileManager.default.removeItem(at: dir) } }
        // Pigeonhole refuses to run mail access as root: as root, it runs as nobody.
        let (user, group) = getuid() == 0 ? ("nobody", "nogroup") : (NSUserName(), String(cString: getgrgid(getgid()).pointee.gr_name))
        let config = dir.appendingPathComponent("dovecot.conf")
        try """
        mail_home = \(dir.path)/home
        mail_location = maildir:\(dir.path)/home/Maildir
        mail_uid = \(user)
        mail_gid = \(group)
        recipient_delimiter = +
        plugin {
          sieve_extensions = +editheader
          sieve_max_redirects = 4
          sieve_max_actions = 32
          sieve = file:\(dir.path)/personal;active=\(dir.path)/home/.dovecot.sieve
          sieve_global = \(dir.path)/global
        }
        """.write(to: config, atomically: true, encoding: .utf8)
        // Scripts to include: "personal/NAME" and "global/NAME" keys, as both find them.
        for sub in ["personal", "global"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
            chmod(dir.appendingPathComponent(sub).path, 0o755)
        }
        for (name, text) in library {
            let url = dir.appendingPathComponent(name + ".sieve")
            try text.write(to: url, atomically: true, encoding: .utf8)
            chmod(url.path, 0o644)
        }
        let includes = SieveIncludeLocations(personal: dir.appendingPathComponent("personal").path,
                                             global: dir.appendingPathComponent("global").path)
        chmod(dir.path, 0o755)
        if getuid() == 0 { chown(dir.appendingPathComponent("home").path, 65534, 65534) }

        var g = Generator(state: seed)
        var agree = 0
        var judged = pairs
        var differences: [String] = []
        for i in 0..<pairs {
            let m = Int(g.next() % UInt64(messages.count))
            let message = messages[m]
            let sender = senders[m]
            let recipient = g.pick(["bob@example.com", "bob+lists@example.com", "bob+work@example.com"])
            let text = make(&g)
            let scriptURL = dir.appendingPathComponent("s\(i).sieve"), messageURL = dir.appendingPathComponent("m\(i).eml")
            try text.write(to: scriptURL, atomically: true, encoding: .utf8)
            try message.write(to: messageURL, atomically: true, encoding: .utf8)
            chmod(scriptURL.path, 0o644)
            chmod(messageURL.path, 0o644)
            // Every fourth pair runs with another default mailbox (sieve-test -m, mdad deliver -m).
            let mailbox = i % 4 == 3 ? "Junk" : "INBOX"
            let (ps, pout) = try Self.runPigeonhole(dir, config: config, script: scriptURL, message: messageURL, sender: sender,
                                                    recipient: recipient, mailbox: mailbox)
            outcomes[ps, default: 0] += 1
            if ps < 0 {
                print("JUDGE CRASHED pair \(i): Pigeonhole's sieve-test died with signal \(-ps); the pair is not counted\n\(text)")
                judged -= 1
                continue
            }
            let (ms, mout) = Self.runMdad(script: text, name: "s\(i)", message: message, sender: sender, recipient: recipient,
                                          includes: includes, mailbox: mailbox)
            if ps == ms && pout == mout {
                agree += 1
            } else {
                differences.append("pair \(i) (message \(m + 1), recipient \(recipient)): Pigeonhole exit \(ps), mdad exit \(ms)\n--- script\n\(text)--- Pigeonhole\n\(pout)--- mdad\n\(mout)")
            }
        }
        return (agree, differences, judged)
    }

    static var pigeonholeInstalled: Bool {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sieve-test") { return true }
        Issue.record("Pigeonhole's sieve-test is not installed (Debian package dovecot-sieve, in scripts/deps TEST_PACKAGES)")
        return false
    }

    static func report(_ what: String, _ agree: Int, _ pairs: Int, _ differences: [String]) {
        let figure = Double(agree) / Double(pairs) * 100
        print("Sieve differential (\(what)): \(agree)/\(pairs) pairs agree with Pigeonhole (\(String(format: "%.1f", figure))%)")
        for d in differences { print("DIFFERENCE \(d)") }
    }

    /// For a script that does not compile, the line of the first error is compared
    /// (`name: line N: error: …`; mdad adds `, column C`, which Pigeonhole does not print);
    /// the wording is not.
    static func compileErrorLine(_ text: String) -> String {
        guard let first = text.split(separator: "\n").first(where: { $0.contains(": error: ") }) else { return "compile error" }
        guard let r = first.range(of: ": line ") else { return "compile error at no line" }
        return "compile error at line " + first[r.upperBound...].prefix { $0.isNumber }
    }

    @Test func generatedScriptsAgreeWithPigeonhole() throws {
        guard Self.pigeonholeInstalled else { return }
        let pairs = 300
        let (agree, differences, judged) = try Self.compare(pairs: pairs, seed: 20_251_125, script: Self.script)
        Self.report("core", agree, judged, differences)
        #expect(agree >= 300, "agreement fell to \(agree)/\(judged)")
    }

    @Test func awkwardMessagesAgreeWithPigeonhole() throws {
        guard Self.pigeonholeInstalled else { return }
        let pairs = 150
        let (agree, differences, judged) = try Self.compare(pairs: pairs, seed: 3_834, messages: Self.awkwardMessages,
                                                    senders: Self.awkwardSenders, script: Self.awkwardScript)
        Self.report("awkward messages", agree, judged, differences)
        #expect(agree >= 150, "agreement fell to \(agree)/\(judged)")
    }

    @Test func includedScriptsAgreeWithPigeonhole() throws {
        guard Self.pigeonholeInstalled else { return }
        let pairs = 100
        let (agree, differences, judged) = try Self.compare(pairs: pairs, seed: 6_609, library: Self.includeLibrary, script: Self.includeScript)
        Self.report("include", agree, judged, differences)
        #expect(agree >= 99, "agreement fell to \(agree)/\(judged)")
    }

    @Test func harderScriptsAgreeWithPigeonhole() throws {
        guard Self.pigeonholeInstalled else { return }
        let pairs = 200
        let (agree, differences, judged) = try Self.compare(pairs: pairs, seed: 5_228, script: Self.hardScript)
        Self.report("extensions and errors", agree, judged, differences)
        #expect(agree >= 200, "agreement fell to \(agree)/\(judged)")
    }
}

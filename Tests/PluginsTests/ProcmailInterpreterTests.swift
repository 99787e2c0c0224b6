#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The interpreter's sequential semantics, with a delivery that records what was asked.
@Suite("procmail interpreter")
struct ProcmailInterpreterTests {
    /// Commands that do not read their input (a backquoted `echo`) close the pipe early: as
    /// in mdad's own processes (prepareProcess), that must be EPIPE, not a killed test process.
    init() { signal(SIGPIPE, SIG_IGN) }

    final class Recorder: ProcmailDelivery {
        var calls: [String] = []
        var failing: Set<String> = []
        func folder(_ path: String, kind: ProcmailFolderKind, mail: ProcmailMail, raw: Bool, isDefault: Bool) -> String? {
            calls.append("\(kind) \(path)\(isDefault ? " (default)" : "")")
            return failing.contains(path) ? nil : path
        }
        func forward(_ addresses: [String], argv: [String], input: [UInt8], environment: [String]) -> Bool {
            calls.append("forward \(argv.joined(separator: " "))")
            return true
        }
        func pipe(_ command: String, input: [UInt8], run: ProcmailCommandRunner, checkStatus: Bool) -> Bool {
            calls.append("pipe \(command)")
            return true
        }
    }

    static let message = "From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: lunch on friday\n\nAt noon?\n"

    func run(_ rc: String, message: String = Self.message, vars: [String: String] = [:], args: [String] = [],
             recorder: Recorder = Recorder(), files: [String: String] = [:]) throws -> (ProcmailOutcome, Recorder, ProcmailInterpreter) {
        let dir = "/tmp/mdad-pm-unit"
        var v = ["MAILDIR": "/m", "DEFAULT": "/m/inbox", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"]
        for (k, x) in vars { v[k] = x }
        let compiled = try ProcmailParser.parse(Array(rc.utf8), file: "rc")
        let i = ProcmailInterpreter(mail: ProcmailMail(Array(message.utf8)), variables: v, arguments: args,
                                    delivery: recorder, logToStandardError: false) { path in
            guard let text = files[path] else { throw SystemError("open", path: path, errno: ENOENT) }
            return try ProcmailParser.parse(Array(text.utf8), file: path)
        }
        _ = dir
        return (i.run([compiled]), recorder, i)
    }

    @Test func theFirstDeliveringRecipeEndsProcessing() throws {
        let (o, r, _) = try run("""
            :0
            * ^Subject:.*lunch
            lunch
            :0
            other
            """)
        #expect(r.calls == ["mbox /m/lunch"])
        #expect(o.exitCode == 0 && o.delivered)
    }

    @Test func copiesAndFailuresGoOn() throws {
        let rec = Recorder()
        rec.failing = ["/m/broken"]
        let (o, r, _) = try run("""
            :0 c
            copy/
            :0
            broken
            :0
            mh/.
            """, recorder: rec)
        #expect(r.calls == ["maildir /m/copy", "mbox /m/broken", "mh /m/mh"])
        #expect(o.lastFolder == "mh", "LASTFOLDER names the folder as the rc did (relative stays relative)")
    }

    @Test func nothingMatchedGoesToDefaultAndBouncesWithoutOne() throws {
        let (o, r, _) = try run(":0\n* ^Subject:.*nothing\nx\n")
        #expect(r.calls == ["mbox /m/inbox (default)"])
        #expect(o.exitCode == 0)
        // Under -m with no DEFAULT of the rc's own, the mail bounces.
        let rec = Recorder()
        let compiled = try ProcmailParser.parse(Array(":0\n* ^Subject:.*nothing\nx\n".utf8), file: "rc")
        let i = ProcmailInterpreter(mail: ProcmailMail(Array(Self.message.utf8)), variables: ["DEFAULT": "/var/mail/x"],
                                    arguments: [], delivery: rec, logToStandardError: false) { _ in
            throw SystemError("open", path: "x", errno: ENOENT)
        }
        i.defaultIsBounce = true
        #expect(i.run([compiled]).exitCode == 73)
        #expect(rec.calls.isEmpty)
    }

    @Test func chainingFlags() throws {
        let (_, r, _) = try run("""
            :0
            * ^Subject:.*lunch
            { }
            :0 A
            * ^From:.*bob
            a-bob
            :0 E
            e-after-failed-a
            """)
        #expect(r.calls == ["mbox /m/e-after-failed-a"])
        let (_, r2, _) = try run("""
            :0
            * ^Subject:.*dinner
            { }
            :0 E
            * ^From:.*alice
            else-alice
            """)
        #expect(r2.calls == ["mbox /m/else-alice"])
    }

    @Test func weightedScores() throws {
        let (_, r, i) = try run("""
            :0 B
            * 1^1 o
            * -3^0 ^At
            scored
            """)
        // "At noon?\n": two o's give 2, "^At" takes 3 away: -1 is not above zero.
        #expect(r.calls == ["mbox /m/inbox (default)"])
        #expect(i.lastScore == -1)
    }

    @Test func expansionAndSpecialReferences() throws {
        let (_, r, i) = try run(#"""
            A='single $HOME'
            B="double ${A}"
            C=${UNSET:-dflt}${A:+set}
            D=$\DOM
            E=`echo hi; echo there`
            F="$1-$#"
            :0
            * ^Subject:\/.*
            $MATCH
            """#, vars: ["DOM": "example.org"], args: ["x", "y"])
        #expect(i.vars["A"] == "single $HOME")
        #expect(i.vars["B"] == "double single $HOME")
        #expect(i.vars["C"] == "dfltset")
        #expect(i.vars["D"] == #"()example\.org"#)
        #expect(i.vars["E"] == "hi\nthere")
        #expect(i.vars["F"] == "x-2")
        #expect(r.calls == ["mbox /m/ lunch on friday"] || r.calls == ["mbox /m/lunch on friday"])
    }

    @Test func filtersReplaceTheMailAndCapturesSetVariables() throws {
        let (o, r, i) = try run("""
            :0 fhw
            | sed -e 's/^Subject: /Subject: [x] /'
            :0 h
            SUBJ=| sed -n 's/^Subject: //p'
            :0
            * ^Subject: \\[x\\]
            filtered
            """)
        #expect(i.vars["SUBJ"] == "[x] lunch on friday")
        #expect(r.calls == ["mbox /m/filtered"])
        #expect(String(decoding: o.mail.bytes, as: UTF8.self).contains("Subject: [x] lunch"))
        #expect(String(decoding: o.mail.bytes, as: UTF8.self).hasSuffix("\n\nAt noon?\n"))
    }

    @Test func aFailingWaitedFilterLeavesTheMail() throws {
        let (o, _, _) = try run(":0 fw\n| sed -e 's/a/b/'; exit 1\n")
        #expect(o.mail.bytes == Array(Self.message.utf8))
    }

    @Test func includeAndSwitch() throws {
        let files = ["/m/inc.rc": ":0\n* ^Subject:.*lunch\nfrom-include\n", "/m/loop.rc": "INCLUDERC=/m/loop.rc\n"]
        let (_, r, _) = try run("INCLUDERC=inc.rc\n:0\nafter\n", files: files)
        #expect(r.calls == ["mbox /m/from-include"])
        let (_, r2, _) = try run("SWITCHRC=/m/none.rc\n:0\nafter\n", files: files)
        #expect(r2.calls == ["mbox /m/after"], "a missing SWITCHRC file is logged and processing goes on")
        // An rc that includes itself stops at the depth limit instead of recursing for ever.
        let (o3, r3, _) = try run("INCLUDERC=/m/loop.rc\n:0\nafter\n", files: files)
        #expect(r3.calls == ["mbox /m/after"])
        #expect(o3.exitCode == 0)
    }

    @Test func forwardsUseSendmailAndItsFlags() throws {
        let (_, r, _) = try run("SENDMAIL=/usr/sbin/sendmail\n:0\n! a@example.org b@example.org\n")
        #expect(r.calls == ["forward /usr/sbin/sendmail -oi a@example.org b@example.org"])
    }

    @Test func exitCodeHostAndDelivered() throws {
        let (o, r, _) = try run("EXITCODE=75\n:0\nx\n")
        #expect(o.exitCode == 75 && r.calls == ["mbox /m/x"])
        let (o2, r2, _) = try run("HOST=no.such.host.example\n:0\nx\n")
        #expect(o2.exitCode == 0 && r2.calls.isEmpty)
        let (o3, r3, _) = try run("DELIVERED=yes\n")
        #expect(o3.exitCode == 0 && r3.calls.isEmpty)
    }

    @Test func theRecipeCountIsLimited() throws {
        let rec = Recorder()
        let compiled = try ProcmailParser.parse(Array(String(repeating: "A=1\n", count: 50).utf8), file: "rc")
        var limits = ProcmailInterpreter.Limits()
        limits.recipes = 10
        let i = ProcmailInterpreter(mail: ProcmailMail(Array(Self.message.utf8)), variables: ["DEFAULT": "/m/inbox"],
                                    arguments: [], delivery: rec, limits: limits, logToStandardError: false) { _ in
            throw SystemError("open", path: "x", errno: ENOENT)
        }
        let o = i.run([compiled])
        #expect(i.recipesRun == 11)
        #expect(o.exitCode == 0, "DEFAULT still takes the mail")
    }

    @Test func theMailBuffer() {
        var m = ProcmailMail(Array("Subject: a\n b\n\nFrom here\nend".utf8))
        #expect(String(decoding: m.searchableHeader, as: UTF8.self) == "Subject: a  b\n\n")
        #expect(String(decoding: m.mboxEntry(raw: false), as: UTF8.self) == "Subject: a\n b\n\n>From here\nend\n")
        #expect(String(decoding: m.commandInput(header: false, body: true), as: UTF8.self) == "From here\nend\n")
        m.setFromLine(sender: "s@x", date: 0)
        #expect(m.hasFromLine && m.fromLineSender == "s@x")
        #expect(String(decoding: m.withoutFromLine, as: UTF8.self) == "Subject: a\n b\n\nFrom here\nend")
        #expect(String(decoding: m.commandInput(header: true, body: false, fromLine: false), as: UTF8.self) == "Subject: a\n b\n\n")
    }
}

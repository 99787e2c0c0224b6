#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad rules test --procmailrc FILE [-f SENDER] [NAME=value …] MESSAGE`: runs an rc on a
/// message without delivering anything and shows, recipe by recipe (file and line), whether it
/// matched and why (each condition with its result, scores for weighted ones), then what
/// would be done. Backquotes, filters and `?` conditions do run, as they would for real; no
/// folder, lockfile or LOGFILE is written.
public enum ProcmailTestCommand {
    public static let usage = """
        usage: mdad rules test --procmailrc FILE [-f SENDER] [NAME=value ...] MESSAGE|-
               mdad rules convert PROCMAILRC > script.sieve

        """

    public static func runFromCommandLine(_ args: [String]) -> Int32 {
        if args.first == "convert" { return convert(Array(args.dropFirst())) }
        var rcFile: String?
        var sender: String?
        var assignments: [(String, String)] = []
        var messageFile: String?
        var i = args.first == "test" ? 1 : 0
        while i < args.count {
            let a = args[i]
            i += 1
            switch a {
            case "--procmailrc", "-f":
                guard i < args.count else { return fail("option \(a) needs a value") }
                if a == "-f" { sender = args[i] } else { rcFile = args[i] }
                i += 1
            case "-h", "--help":
                try? Posix.writeAll(1, Array(usage.utf8))
                return 0
            default:
                if let eq = a.firstIndex(of: "="), eq != a.startIndex, !a.hasPrefix("/") {
                    assignments.append((String(a[..<eq]), String(a[a.index(after: eq)...])))
                } else if messageFile == nil {
                    messageFile = a
                } else {
                    return fail("unexpected argument \"\(a)\"")
                }
            }
        }
        guard let rcFile else { return fail("--procmailrc FILE is required") }
        guard let messageFile else { return fail("a MESSAGE file (or - for standard input) is required") }
        let rc: ProcmailRC
        do { rc = try ProcmailCommand.load(rcFile) } catch {
            return fail("\(error)")
        }
        let bytes: [UInt8]
        do {
            bytes = messageFile == "-" ? try Posix.readFile("/dev/stdin", limit: ProcmailMail.maximumSize)
                : try Posix.readFile(messageFile, limit: ProcmailMail.maximumSize)
        } catch {
            return fail("cannot read \(messageFile): \(error)")
        }
        var mail = ProcmailMail(bytes)
        if let s = sender { mail.setFromLine(sender: s, date: Int(time(nil))) }
        let me = (try? LocalUser.lookup(uid: geteuid())) ?? nil
        let user = me ?? LocalUser(name: "nobody", uid: geteuid(), gid: getegid(), home: "/")
        var vars = ProcmailCommand.defaultVariables(user: user, shell: "/bin/sh", mailFilter: false, workingDirectory: user.home)
        for (k, v) in assignments { vars[k] = v }
        let delivery = ProcmailRecordingDelivery(defaultMailbox: nil)
        let interpreter = ProcmailInterpreter(mail: mail, variables: vars, arguments: [], delivery: delivery,
                                              logToStandardError: false, loader: ProcmailCommand.load)
        interpreter.writesFiles = false
        let outcome = interpreter.run([rc])
        var out = ""
        for t in outcome.trace { out += "\(t.file), line \(t.line): \(t.text)\n" }
        out += "\n"
        if delivery.actions.isEmpty {
            out += outcome.exitCode == 0 ? "result: nothing delivered (DELIVERED or HOST ended processing)\n"
                : "result: bounced (no delivering recipe and no DEFAULT)\n"
        }
        for a in delivery.actions { out += "result: \(describe(a))\n" }
        if outcome.mail != mail { out += "note: filters changed the message\n" }
        out += "exit code: \(outcome.exitCode)\n"
        try? Posix.writeAll(1, Array(out.utf8))
        return 0
    }

    /// `mdad rules convert FILE`: the Sieve script on standard output, each recipe it could not
    /// convert (file, line, reason) on standard error.
    static func convert(_ args: [String]) -> Int32 {
        guard args.count == 1, let path = args.first else { return fail("convert takes one procmailrc file") }
        let rc: ProcmailRC
        do { rc = try ProcmailCommand.load(path) } catch { return fail("\(error)") }
        let (script, skipped) = ProcmailSieveConverter.convert(rc)
        try? Posix.writeAll(1, Array(script.utf8))
        var err = ""
        for s in skipped { err += "\(s)\n" }
        if !skipped.isEmpty { try? Posix.writeAll(2, Array(err.utf8)) }
        return 0
    }

    static func describe(_ a: RecipientAction) -> String {
        switch a {
        case .file(let path, .mbox): return "append to mbox \(path)"
        case .file(let path, .maildir): return "store in Maildir \(path)/"
        case .file(let path, .mh): return "store in MH folder \(path)/."
        case .file(let path, .directory(let prefix)): return "store in directory \(path) as \(prefix)*"
        case .store(let folder, _): return "store in the mailbox\(folder.map { " folder \($0)" } ?? "")"
        case .redirect(let to, _): return "forward to \(to)"
        case .pipe(let command): return "pipe to \(command)"
        case .discard: return "discard (/dev/null)"
        case .send(let m): return "send a message to \(m.recipients.joined(separator: ", "))"
        }
    }

    static func fail(_ message: String) -> Int32 {
        try? Posix.writeAll(2, Array("mdad rules test: \(message)\n\(usage)".utf8))
        return SysExit.usage.rawValue
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad procmail`: procmail's own command line (procmail(1)), so it drops in as Postfix's
/// `mailbox_command` or `|procmail` in a .forward:
///
///     procmail [-ptoY] [-f fromwhom] [parameter=value | rcfile] …
///     procmail [-toY] [-f fromwhom] [-a argument] … -d recipient
///     procmail [-ptY] -m [parameter=value] … rcfile [argument] …
///
/// Exit codes are procmail's: 0 delivered, 73 bounced or nowhere to write, 75 try again
/// (`-t`, or a failure to read the message), 64 a usage error, 67 an unknown `-d` user.
public enum ProcmailCommand {
    public struct Options: Sendable, Equatable {
        public var preserveEnvironment = false
        public var failSoftly = false
        public var mailFilter = false
        public var sender: String?
        public var arguments: [String] = []
        public var deliverTo: String?
        public var assignments: [(String, String)] = []
        public var rcFiles: [String] = []
        public var version = false
        /// `-z`: procmail's LMTP mode (see ``lmtpModeText``).
        public var lmtp = false

        public init() {}

        public static func == (a: Options, b: Options) -> Bool {
            a.preserveEnvironment == b.preserveEnvironment && a.failSoftly == b.failSoftly
                && a.mailFilter == b.mailFilter && a.sender == b.sender && a.arguments == b.arguments
                && a.deliverTo == b.deliverTo && a.rcFiles == b.rcFiles && a.version == b.version && a.lmtp == b.lmtp
                && a.assignments.map { $0.0 + "=" + $0.1 } == b.assignments.map { $0.0 + "=" + $0.1 }
        }
    }

    public struct UsageError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses the arguments as procmail's getopt-like loop does: options first (letters may be
    /// grouped, a value attached or in the next argument), then assignments and rc files;
    /// under `-m` the first non-assignment is the rc file and the rest are `$1`….
    public static func parse(_ args: [String]) throws(UsageError) -> Options {
        var o = Options()
        var i = 0
        while i < args.count {
            let a = args[i]
            guard a.hasPrefix("-"), a.count > 1, a != "--" else {
                if a == "--" { i += 1 }
                break
            }
            i += 1
            var letters = Array(a.dropFirst())
            while !letters.isEmpty {
                let l = letters.removeFirst()
                switch l {
                case "p": o.preserveEnvironment = true
                case "t": o.failSoftly = true
                case "m": o.mailFilter = true
                case "o", "Y": break
                case "v": o.version = true
                case "z": o.lmtp = true
                case "f", "r", "a", "d":
                    var value = String(letters)
                    letters = []
                    if value.isEmpty {
                        guard i < args.count else { throw UsageError(description: "missing argument to -\(l)") }
                        value = args[i]
                        i += 1
                    }
                    switch l {
                    case "f", "r": o.sender = value
                    case "a": o.arguments.append(value)
                    case "d": o.deliverTo = value
                    default: break
                    }
                default:
                    throw UsageError(description: "unknown option -\(l)")
                }
            }
        }
        var sawRC = false
        while i < args.count {
            let a = args[i]
            i += 1
            if o.mailFilter && sawRC {
                o.arguments.append(a)
                continue
            }
            if let eq = a.firstIndex(of: "="), a[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), eq != a.startIndex {
                o.assignments.append((String(a[..<eq]), String(a[a.index(after: eq)...])))
            } else {
                o.rcFiles.append(a)
                sawRC = true
            }
        }
        if o.mailFilter && o.rcFiles.isEmpty { throw UsageError(description: "-m needs an rcfile") }
        if o.mailFilter && o.deliverTo != nil { throw UsageError(description: "-m and -d cannot be combined") }
        return o
    }

    /// procmail's `-z` speaks LMTP on standard input and output (a build option; Debian's
    /// procmail is built without it and exits 64 saying so). mdad's LMTP is `mdad serve`: the
    /// same per-recipient replies (RFC 2033), over sockets Postfix's lmtp(8) connects to, with
    /// `rules_engines = procmail` running each recipient's ~/.procmailrc. So `-z` is accepted,
    /// says where LMTP lives, and exits as Debian's procmail does.
    public static let lmtpModeText = """
        mdad procmail: LMTP mode (-z) is served by mdad serve: set lmtp_listen and         rules_engines = procmail in main.cf and point Postfix's mailbox_transport at it

        """

    public static let usage = """
        usage: mdad procmail [-ptoY] [-f fromwhom] [parameter=value | rcfile] ...
               mdad procmail [-toY] [-f fromwhom] [-a argument] ... -d recipient
               mdad procmail [-ptY] -m [parameter=value] ... rcfile [argument] ...

        """

    /// procmail's starting variables for `user` (procmail -v lists them).
    public static func defaultVariables(user: LocalUser, shell: String, mailFilter: Bool, workingDirectory: String) -> [String: String] {
        let mailbox = "/var/mail/\(user.name)"
        return [
            "HOME": user.home, "LOGNAME": user.name, "USER": user.name, "SHELL": shell,
            "PATH": "\(user.home)/bin:/usr/local/bin:/usr/bin:/bin",
            "SENDMAIL": "/usr/sbin/sendmail", "SENDMAILFLAGS": "-oi", "SHELLFLAGS": "-c",
            "SHELLMETAS": "&|<>~;?*[", "LOCKEXT": ".lock", "MSGPREFIX": "msg.", "COMSAT": "no",
            "LINEBUF": "2048", "HOST": Posix.hostName(), "DEFAULT": mailbox, "ORGMAIL": mailbox,
            "MAILDIR": mailFilter ? workingDirectory : user.home, "PROCMAIL_VERSION": "3.23pre",
        ]
    }

    /// Runs `mdad procmail ARGS` on the message on standard input; returns the exit code.
    public static func runFromCommandLine(_ args: [String]) -> Int32 {
        let o: Options
        do { o = try parse(args) } catch {
            try? Posix.writeAll(2, Array("mdad procmail: \(error.description)\n\(usage)".utf8))
            return SysExit.usage.rawValue
        }
        if o.lmtp {
            try? Posix.writeAll(2, Array(lmtpModeText.utf8))
            return SysExit.usage.rawValue
        }
        if o.version {
            try? Posix.writeAll(1, Array("mdad procmail (procmailrc engine compatible with procmail v3.23pre)\n".utf8))
            return 0
        }
        // The user: -d names one (root becomes them), else whoever runs us.
        var user: LocalUser
        do {
            if let name = o.deliverTo {
                guard let u = try LocalUser.lookup(name: name) else {
                    try? Posix.writeAll(2, Array("mdad procmail: Unknown user \"\(name)\"\n".utf8))
                    return SysExit.noUser.rawValue
                }
                try u.becomeUser()
                user = u
            } else {
                user = try LocalUser.lookup(uid: geteuid()) ?? LocalUser(name: "nobody", uid: geteuid(), gid: getegid(), home: "/")
            }
        } catch {
            try? Posix.writeAll(2, Array("mdad procmail: \(error)\n".utf8))
            return SysExit.tempFail.rawValue
        }
        var cwdBuf = [CChar](repeating: 0, count: 4096)
        let cwd = getcwd(&cwdBuf, cwdBuf.count) != nil ? String(decoding: cwdBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/"
        var vars: [String: String] = [:]
        if o.preserveEnvironment {
            var e = environ
            while let p = e.pointee {
                let s = String(cString: p)
                if let eq = s.firstIndex(of: "=") { vars[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
                e += 1
            }
        } else if let tz = Posix.environment("TZ") {
            vars["TZ"] = tz
        }
        let shell = passwdShell(user.uid) ?? "/bin/sh"
        for (k, v) in defaultVariables(user: user, shell: shell, mailFilter: o.mailFilter, workingDirectory: cwd) where vars[k] == nil || !o.preserveEnvironment || ["HOME", "LOGNAME", "USER", "SHELL"].contains(k) {
            vars[k] = v
        }
        if let s = o.sender { vars["SENDER"] = s }
        // "COMSAT: no (if an rcfile is specified on the command line)", else on (procmailrc(5)).
        if o.rcFiles.isEmpty && !(o.preserveEnvironment && Posix.environment("COMSAT") != nil) { vars["COMSAT"] = "" }

        // The message.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && currentErrno() == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > ProcmailMail.maximumSize {
                try? Posix.writeAll(2, Array("mdad procmail: message larger than \(ProcmailMail.maximumSize) bytes\n".utf8))
                return SysExit.tempFail.rawValue
            }
        }
        var mail = ProcmailMail(bytes)
        let now = Int(time(nil))
        if let s = o.sender {
            mail.setFromLine(sender: s == "-" ? (mail.fromLineSender ?? user.name) : s, date: now)
        } else if o.deliverTo != nil || !o.mailFilter, !mail.hasFromLine {
            let rp = mail.field("Return-Path").map { $0.trimmingCharacters(in: "<>") }
            mail.setFromLine(sender: rp.flatMap { $0.isEmpty ? nil : $0 } ?? "MAILER-DAEMON", date: now)
        }

        // The rc files: -m and plain invocations name them; -d (or none named) reads
        // /etc/procmailrc and then ~/.procmailrc.
        var rcNames = o.rcFiles
        var usesGlobal = false
        if rcNames.isEmpty {
            rcNames = ["\(user.home)/.procmailrc"]
            usesGlobal = Posix.exists("/etc/procmailrc")
        }
        var defaultAssigned = false
        for (k, v) in o.assignments {
            vars[k] = v
            if k == "DEFAULT" { defaultAssigned = true }
        }
        var rcs: [ProcmailRC] = []
        let delivery = ProcmailImmediateDelivery(hostName: Posix.hostName())
        for (n, name) in rcNames.enumerated() {
            let path = name.hasPrefix("/") ? name : (o.mailFilter ? cwd : user.home) + "/" + name
            if !o.mailFilter, let why = suspicious(path, user: user) {
                // procmail will not run an rc that someone else could have written.
                try? Posix.writeAll(2, Array("mdad procmail: Suspicious rcfile \"\(path)\" (\(why))\n".utf8))
                continue
            }
            do {
                rcs.append(try load(path))
            } catch let e as ProcmailParseError {
                try? Posix.writeAll(2, Array("mdad procmail: \(e)\n".utf8))
                if o.mailFilter { return o.failSoftly ? SysExit.tempFail.rawValue : SysExit.cantCreate.rawValue }
            } catch {
                if o.mailFilter || n > 0 || !o.rcFiles.isEmpty {
                    try? Posix.writeAll(2, Array("mdad procmail: Couldn't read \"\(path)\"\n".utf8))
                }
                if o.mailFilter { return SysExit.cantCreate.rawValue }
            }
        }
        if usesGlobal, let g = try? load("/etc/procmailrc") { rcs.insert(g, at: 0) }
        let interpreter = ProcmailInterpreter(mail: mail, variables: vars, arguments: o.arguments, delivery: delivery,
                                              logToStandardError: true,
                                              ownsProcess: true, loader: load)
        // Under -m the mail bounces unless the rc (or the command line) names a DEFAULT.
        if o.mailFilter && !defaultAssigned { interpreter.defaultIsBounce = true }
        interpreter.fallbackToOrgmail = !o.mailFilter
        umask(0o077)
        let outcome = interpreter.run(rcs)
        for e in delivery.errors { try? Posix.writeAll(2, Array("procmail: \(e)\n".utf8)) }
        if outcome.exitCode == SysExit.cantCreate.rawValue && o.failSoftly { return SysExit.tempFail.rawValue }
        return outcome.exitCode
    }

    /// Why an rc file is not to be trusted, as procmail judges it: owned by neither the user nor
    /// root, writable by others (its group may write it when that is the user's own group), or
    /// in a directory anyone may write without the sticky bit. nil when it is fine or missing.
    static func suspicious(_ path: String, user: LocalUser) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if st.st_uid != user.uid && st.st_uid != 0 { return "owned by uid \(st.st_uid)" }
        if st.st_mode & S_IWOTH != 0 { return "writable by anyone" }
        if st.st_mode & S_IWGRP != 0 && st.st_gid != user.gid { return "writable by group \(st.st_gid)" }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var d = stat()
        if stat(dir.isEmpty ? "/" : dir, &d) == 0, d.st_mode & S_IWOTH != 0, d.st_mode & S_ISVTX == 0 {
            return "its directory is writable by anyone"
        }
        return nil
    }

    /// Reads and compiles an rc file.
    public static func load(_ path: String) throws -> ProcmailRC {
        let bytes = try Posix.readFile(path, limit: 4 << 20)
        return try ProcmailParser.parse(bytes, file: path)
    }

    static func passwdShell(_ uid: uid_t) -> String? {
        guard let pw = getpwuid(uid), let sh = pw.pointee.pw_shell else { return nil }
        let s = String(cString: sh)
        return s.isEmpty ? nil : s
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

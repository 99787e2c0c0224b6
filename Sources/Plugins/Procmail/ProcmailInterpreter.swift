#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// What one run of the rc files came to.
public struct ProcmailOutcome: Sendable {
    /// procmail's exit code: 0 delivered, 73 bounced (no DEFAULT under `-m`), 75 could not deliver.
    public var exitCode: Int32
    /// Whether a delivering recipe (or DEFAULT) took the mail.
    public var delivered: Bool
    public var lastFolder: String?
    /// The mail as it ended (after filters).
    public var mail: ProcmailMail
    /// Each recipe tried: file, line, whether it matched and why (for `mdad rules test`).
    public var trace: [ProcmailTraceEntry]
}

/// One step of the explanation `mdad rules test` prints.
public struct ProcmailTraceEntry: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var text: String
}

/// Runs compiled rc files against one message, sequentially as procmail does: assignments
/// take effect at once, filters and captures change the mail or variables at once, the first
/// delivering recipe that succeeds ends processing (unless `c`), a failed one lets the rc go on,
/// and the mail goes to DEFAULT when no recipe delivered it.
public final class ProcmailInterpreter {
    public struct Limits: Sendable {
        public var includeDepth = 16
        public var recipes = 100_000
        public var commandTimeout: Double = 960
        public var captureSize = 1 << 20
        public init() {}
    }

    var vars: [String: String]
    public private(set) var mail: ProcmailMail
    let delivery: any ProcmailDelivery
    let limits: Limits
    let loader: (String) throws -> ProcmailRC
    var arguments: [String]
    var lastScore = 0
    var currentRC = ""
    let processID = Int(getpid())
    var lastCondition = false
    var lastSucceeded = true
    var delivered = false
    var includeDepth = 0
    var recipesRun = 0
    var trace: [ProcmailTraceEntry] = []
    var heldLocks: [String] = []
    var globalLock: String?
    var logFD: Int32 = -1
    var logPath: String?
    let logToStandardError: Bool
    /// Set when the process may change its umask (not in the multi-threaded rules stage).
    let ownsProcess: Bool
    /// Under `-m`, a DEFAULT the rc never assigned means the mail bounces (procmail's "**Bounced**").
    public var defaultIsBounce = false
    /// Where the last copy of the mail started in the file it went to (procmail's `lasttell`):
    /// an mbox's size before the append, 0 for a new file, -1 after a command got the mail.
    var lastTell = -1
    /// The first file of the last folder delivery, which procmail's comsat notification names
    /// (LASTFOLDER lists them all); nil after a pipe or forward.
    var comsatFolder: String?

    /// - Parameters:
    ///   - variables: the environment the rc starts with (procmail's defaults already in).
    ///   - loader: reads and compiles an rc file named by INCLUDERC/SWITCHRC (with caching).
    public init(mail: ProcmailMail, variables: [String: String], arguments: [String],
                delivery: any ProcmailDelivery, limits: Limits = Limits(),
                logToStandardError: Bool = true, ownsProcess: Bool = false,
                loader: @escaping (String) throws -> ProcmailRC) {
        self.mail = mail
        vars = variables
        self.arguments = arguments
        self.delivery = delivery
        self.limits = limits
        self.loader = loader
        self.logToStandardError = logToStandardError
        self.ownsProcess = ownsProcess
    }

    deinit {
        if logFD >= 0 { close(logFD) }
        for l in heldLocks { unlink(l) }
        if let g = globalLock { unlink(g) }
    }

    /// `next`: go on; `stop`: processing ends (delivered, or a limit); `endFile`: this rc file
    /// ends (an empty SWITCHRC); `hostMismatch`: HOST named another host (procmail ends the
    /// file and, with no rc file left, exits as if it had delivered).
    enum Flow { case next, stop, endFile, hostMismatch }

    /// Where each level of nested statements stands, so a `c` block's clone can go on with
    /// the rest of the rc after the block, as procmail's forked child does.
    struct Frame { var items: [ProcmailItem]; var next: Int; var rc: ProcmailRC }
    var frames: [Frame] = []
    var pendingRCs: [ProcmailRC] = []
    /// Set when HOST ended the last rc file: procmail exits 0 without delivering.
    var pretendDelivered = false
    /// Whether a failed DEFAULT falls back to ORGMAIL (not under `-m`).
    public var fallbackToOrgmail = true
    /// Whether commands may run (when not, backquotes, filters and `?` conditions fail).
    public var commandsAllowed = true
    /// The user commands run as (nil = this process's identity).
    public var commandIdentity: Subprocess.Identity? = nil
    /// Whether LOGFILE and lockfiles are written (`mdad rules test` shows a run without writing any).
    public var writesFiles = true

    func variable(_ name: String) -> String? { vars[name] }

    /// Runs the rc files in order (the next one only when the previous did not deliver), then
    /// DEFAULT, then TRAP; returns the exit code and what happened.
    public func run(_ rcs: [ProcmailRC]) -> ProcmailOutcome {
        pendingRCs = rcs
        _ = runPendingFiles()
        deliverDefault()
        let done = delivered || pretendDelivered || isTrue(vars["DELIVERED"])
        var code: Int32 = done ? 0 : 73
        if !done { logAbstract(folder: "**Bounced**", size: 0) }
        if let e = vars["EXITCODE"], let n = Int32(e.trimmingWhitespace()) { code = n }
        if ownsProcess { notifyComsat(exitCode: code) }
        if let trap = vars["TRAP"], !trap.isEmpty {
            let r = runner().run(trap, input: mail.commandInput(header: true, body: true), captureOutput: false)
            if vars["EXITCODE"] == "", let c = r?.exitCode { code = c }
        }
        releaseLocks()
        return ProcmailOutcome(exitCode: code, delivered: delivered, lastFolder: vars["LASTFOLDER"], mail: mail, trace: trace)
    }

    /// Runs the rc files not yet run; `.stop` when one ended processing.
    func runPendingFiles() -> Flow {
        while !pendingRCs.isEmpty {
            if delivered { return .stop }
            let rc = pendingRCs.removeFirst()
            currentRC = rc.file
            switch runItems(rc.items, rc: rc) {
            case .stop: return .stop
            case .hostMismatch where pendingRCs.isEmpty:
                pretendDelivered = true
                return .stop
            default: continue
            }
        }
        return .next
    }

    /// DEFAULT (then ORGMAIL) when nothing delivered the mail.
    func deliverDefault() {
        guard !delivered, !pretendDelivered, !isTrue(vars["DELIVERED"]), !defaultIsBounce else { return }
        guard let d = vars["DEFAULT"], !d.isEmpty else { return }
        if deliverFolders([d], flags: ProcmailFlags(), isDefault: true) {
            delivered = true
        } else if fallbackToOrgmail, let org = vars["ORGMAIL"], !org.isEmpty, org != d,
                  deliverFolders([org], flags: ProcmailFlags(), isDefault: true) {
            delivered = true
        }
    }

    func runItems(_ items: [ProcmailItem], rc: ProcmailRC) -> Flow {
        frames.append(Frame(items: items, next: 0, rc: rc))
        let level = frames.count - 1
        defer { frames.removeLast() }
        for (i, item) in items.enumerated() {
            frames[level].next = i + 1
            recipesRun += 1
            if recipesRun > limits.recipes {
                log("procmail: more than \(limits.recipes) statements run; stopping\n")
                return .stop
            }
            switch item {
            case .assignment(let name, let value, let line):
                let flow = assign(name, value.map { expand($0, .value).joined() }, rc: rc, line: line)
                if flow != .next { return flow }
            case .recipe(let r):
                let flow = runRecipe(r, rc: rc)
                if flow != .next { return flow }
            }
        }
        return .next
    }

    /// A `c` block: a clone of the run takes the block and, unless it delivers there, the rest
    /// of the rc files and DEFAULT, as procmail's forked child does; then the original goes on
    /// after the block with its own variables and mail. (The clone runs no TRAP.)
    func runClone(_ items: [ProcmailItem], rc: ProcmailRC) {
        let saved = (vars, mail, delivered, lastCondition, lastSucceeded, arguments, pendingRCs, pretendDelivered)
        let savedFrames = frames
        let savedRC = currentRC
        var flow = runItems(items, rc: rc)
        if flow == .next {
            for k in stride(from: savedFrames.count - 1, through: 0, by: -1) {
                frames = Array(savedFrames[0..<k])
                let f = savedFrames[k]
                flow = runItems(Array(f.items[f.next...]), rc: f.rc)
                if flow != .next { break }
            }
            frames = savedFrames
        }
        if flow == .hostMismatch && pendingRCs.isEmpty { pretendDelivered = true }
        if flow != .stop && !pretendDelivered { _ = runPendingFiles() }
        deliverDefault()
        // procmail's clone ends as a process of its own, with its own notification.
        if ownsProcess && (delivered || pretendDelivered) { notifyComsat(exitCode: 0) }
        (vars, mail, delivered, lastCondition, lastSucceeded, arguments, pendingRCs, pretendDelivered) = saved
        currentRC = savedRC
    }

    // MARK: assignments and the special variables

    func assign(_ name: String, _ value: String?, rc: ProcmailRC, line: Int) -> Flow {
        if let value { vars[name] = value } else { vars[name] = nil }
        let v = value ?? ""
        switch name {
        case "LOGFILE":
            if logFD >= 0 { close(logFD); logFD = -1 }
            logPath = nil
            if !v.isEmpty && writesFiles {
                let p = resolve(v)
                logFD = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
                logPath = p
            }
        case "LOG":
            log(v)
        case "DEFAULT":
            defaultIsBounce = false
        case "INCLUDERC", "SWITCHRC":
            if name == "SWITCHRC" && v.isEmpty { return .endFile }
            guard includeDepth < limits.includeDepth else {
                log("procmail: \(name) nested more than \(limits.includeDepth) deep at \(rc.file), line \(line)\n")
                return .next
            }
            let path = resolve(v)
            let included: ProcmailRC
            do { included = try loader(path) } catch {
                log("procmail: Couldn't read \"\(path)\": \(error)\n")
                return .next
            }
            trace.append(.init(file: rc.file, line: line, text: "\(name)=\(path)"))
            includeDepth += 1
            let saved = currentRC
            currentRC = included.file
            let flow = runItems(included.items, rc: included)
            currentRC = saved
            includeDepth -= 1
            if name == "SWITCHRC" { return flow == .stop || flow == .hostMismatch ? flow : .endFile }
            return flow == .endFile ? .next : flow
        case "HOST":
            if !v.isEmpty && v != Posix.hostName() { return .hostMismatch }
        case "LOCKFILE":
            if let g = globalLock { unlink(g); globalLock = nil }
            if !v.isEmpty { globalLock = lock(resolve(v)) ? resolve(v) : nil }
        case "UMASK":
            if ownsProcess, let m = Int(v, radix: 8) { umask(mode_t(m)) }
        case "SHIFT":
            if let n = Int(v), n > 0 { arguments.removeFirst(min(n, arguments.count)) }
            vars["SHIFT"] = nil
        default:
            break
        }
        return .next
    }

    // MARK: recipes

    func runRecipe(_ r: ProcmailRecipe, rc: ProcmailRC) -> Flow {
        let f = r.flags
        var proceed = true
        if f.chainAnd { proceed = proceed && lastCondition }
        if f.chainAndSucceeded { proceed = proceed && lastCondition && lastSucceeded }
        if f.elseIf { proceed = proceed && !lastCondition }
        if f.elseIfFailed { proceed = proceed && lastCondition && !lastSucceeded }
        var why: [String] = []
        var matched = false
        if proceed {
            (matched, why) = evaluate(r)
        } else {
            why = ["skipped by its \(f.elseIf || f.elseIfFailed ? "E/e" : "A/a") flag"]
        }
        if f.elseIf && !proceed { lastCondition = true } else if !(f.elseIfFailed && !proceed) { lastCondition = matched }
        trace.append(.init(file: rc.file, line: r.line,
                           text: (matched ? "matched" : "no match") + (why.isEmpty ? "" : ": " + why.joined(separator: "; "))
                               + (matched ? " → line \(r.actionLine): \(Self.describe(r.action, r.flags))" : "")))
        guard matched else { return .next }

        var lockPath: String?
        if let l = r.lockfile {
            var name = l.isEmpty ? nil : resolve(expand(l, .value).joined())
            if name == nil, case .folders(let text) = r.action, let first = expand(text, .words).first {
                let path = resolve(first)
                // An mbox's own lockfile is the appender's dotlock: it takes it itself.
                if folderKind(path).kind == .mbox && (vars["LOCKEXT"] ?? ".lock") != ".lock" { name = path + (vars["LOCKEXT"] ?? ".lock") }
            }
            if let n = name, lock(n) { lockPath = n }
        }
        defer { if let l = lockPath { unlink(l); heldLocks.removeAll { $0 == l } } }

        let delivering: Bool
        var ok = true
        switch r.action {
        case .block(let items):
            lastSucceeded = true
            if f.copy {
                runClone(items, rc: rc)
                return .next
            }
            return runItems(items, rc: rc)
        case .folders(let text):
            delivering = true
            ok = deliverFolders(expand(text, .words), flags: f, isDefault: false)
        case .forward(let text):
            delivering = true
            let addresses = expand(text, .words)
            let argv = expand(vars["SENDMAIL"] ?? "/usr/sbin/sendmail", .words)
                + expand(vars["SENDMAILFLAGS"] ?? "-oi", .words) + addresses
            lastTell = -1
            ok = delivery.forward(addresses, argv: argv,
                                  input: mail.commandInput(header: f.feedsHeader, body: f.feedsBody, fromLine: false, raw: f.raw),
                                  environment: environment())
            if ok { vars["LASTFOLDER"] = argv.joined(separator: " "); comsatFolder = nil }
        case .pipe(let command):
            if f.filter {
                delivering = false
                ok = filter(command, flags: f)
            } else {
                delivering = true
                ok = delivery.pipe(command, input: mail.commandInput(header: f.feedsHeader, body: f.feedsBody, raw: f.raw),
                                   run: runner(), checkStatus: f.wait || f.waitQuiet)
                if ok { vars["LASTFOLDER"] = command; comsatFolder = nil }
            }
        case .capture(let name, let command):
            delivering = false
            if let res = runner().run(command, input: mail.commandInput(header: f.feedsHeader, body: f.feedsBody, raw: f.raw)) {
                var out = res.output
                while out.last == 10 { out.removeLast() }
                ok = !(f.wait || f.waitQuiet) || res.exitCode == 0
                if ok { vars[name] = String(decoding: out.prefix(limits.captureSize), as: UTF8.self) }
            } else {
                ok = false
            }
        }
        lastSucceeded = ok || f.ignoreErrors
        if delivering && (ok || f.ignoreErrors) && !f.copy {
            delivered = true
            return .stop
        }
        return .next
    }

    // MARK: actions

    static func describe(_ a: ProcmailAction, _ f: ProcmailFlags) -> String {
        let copy = f.copy ? " (copy: processing goes on)" : ""
        switch a {
        case .folders(let t): return "folder \(t)" + copy
        case .forward(let t): return "forward ! \(t)" + copy
        case .pipe(let t): return (f.filter ? "filter | " : "pipe | ") + t + copy
        case .capture(let v, let t): return "\(v)=| \(t)"
        case .block(let items): return "block of \(items.count) statement\(items.count == 1 ? "" : "s")" + copy
        }
    }

    func filter(_ command: String, flags f: ProcmailFlags) -> Bool {
        let h = f.feedsHeader, b = f.feedsBody
        guard let res = runner().run(command, input: mail.commandInput(header: h, body: b, raw: f.raw)) else { return false }
        if (f.wait || f.waitQuiet) && res.exitCode != 0 { return false }
        guard !res.outputTruncated else {
            log("procmail: filter output of \"\(command)\" exceeds \(limits.captureSize * 256) bytes; mail unchanged\n")
            return false
        }
        mail.replace(header: h, body: b, with: res.output)
        return res.exitCode == 0 || !(f.wait || f.waitQuiet)
    }

    /// The kind of folder a path names (procmail's `foldertype`): `dir/.` MH, `dir/` Maildir,
    /// `/dev/null`, an existing directory (a file named $MSGPREFIX and a unique suffix per
    /// message, procmailrc(5)), else an mbox file.
    func folderKind(_ path: String) -> (kind: ProcmailFolderKind, path: String) {
        if path == "/dev/null" { return (.discard, path) }
        if path.hasSuffix("/.") { return (.mh, String(path.dropLast(2))) }
        if path.hasSuffix("/") && path.count > 1 { return (.maildir, String(path.dropLast())) }
        if Posix.isDirectory(path) { return (.directory(prefix: vars["MSGPREFIX"] ?? "msg."), path) }
        return (.mbox, path)
    }

    func deliverFolders(_ names: [String], flags f: ProcmailFlags, isDefault: Bool) -> Bool {
        guard let first = names.first else { return false }
        let feed = f.feedHeader != f.feedBody
        let m = feed ? ProcmailMail(mail.part(header: f.feedsHeader, body: f.feedsBody)) : mail
        let (kind, path) = folderKind(resolve(first))
        let startsAt = kind == .mbox ? Self.fileSize(path) : 0
        var written = delivery.folder(path, kind: kind, mail: m, raw: f.raw, isDefault: isDefault)
            .map { Self.asNamed($0, folder: first, path: path) }
        if let w = written { lastTell = startsAt; comsatFolder = w }
        if written != nil, kind != .mbox {
            // Further directory folders get the same message (procmail links them).
            // Further directory folders get the same file (procmail links them): a Maildir
            // file has no From_ line and no added newline.
            let linked = kind == .maildir ? ProcmailMail(m.withoutFromLine) : m
            for other in names.dropFirst() {
                let (k, p) = folderKind(resolve(other))
                if k == .mbox { continue }
                if let w = delivery.folder(p, kind: k, mail: linked, raw: f.raw || kind == .maildir, isDefault: false) {
                    written = (written ?? "") + " " + Self.asNamed(w, folder: other, path: p)
                }
            }
        }
        guard let lastFolder = written else { return false }
        vars["LASTFOLDER"] = lastFolder
        logAbstract(folder: lastFolder, size: kind == .mbox ? m.mboxEntry(raw: f.raw).count : m.size)
        return true
    }

    /// The file written, named as the rc named its folder: procmail's LASTFOLDER keeps a
    /// relative folder relative (`md/` → `md/new/NAME`, `mh/.` → `mh/1`, `box` → `box`).
    static func asNamed(_ written: String, folder name: String, path: String) -> String {
        guard written.hasPrefix(path) else { return written }
        var base = Substring(name)
        if base.hasSuffix("/.") { base = base.dropLast(2) } else if base.hasSuffix("/") && base.count > 1 { base = base.dropLast() }
        return String(base + written.dropFirst(path.count))
    }

    // MARK: locks, logs, commands

    /// Takes a dotlock (procmail's lockfile): waits while another holds it; one older than
    /// LOCKTIMEOUT seconds is taken over.
    @discardableResult
    func lock(_ path: String) -> Bool {
        guard writesFiles else { return false }
        let timeout = Int(vars["LOCKTIMEOUT"] ?? "") ?? 1024
        for _ in 0..<(600 * 10) {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            if fd >= 0 { close(fd); heldLocks.append(path); return true }
            if currentErrno() != EEXIST { return false }
            var st = stat()
            if timeout > 0, stat(path, &st) == 0, Int(time(nil)) - Int(st.st_mtim.tv_sec) > timeout {
                unlink(path)
                log("procmail: Forcing lock on \"\(path)\"\n")
                continue
            }
            usleep(100_000)
        }
        log("procmail: Lock failure on \"\(path)\"\n")
        return false
    }

    func releaseLocks() {
        for l in heldLocks { unlink(l) }
        heldLocks = []
        globalLock = nil
    }

    func log(_ text: String) {
        let bytes = Array(text.utf8)
        if logFD >= 0 { try? Posix.writeAll(logFD, bytes) } else if logToStandardError { try? Posix.writeAll(2, bytes) }
    }

    func logAbstract(folder: String, size: Int) {
        let setting = vars["LOGABSTRACT"] ?? "-1"
        guard setting == "all" || (logFD >= 0 && isTrue(setting) && setting != "-1") || (logFD >= 0 && setting == "-1") else { return }
        var text = ""
        if mail.hasFromLine, let nl = mail.bytes.firstIndex(of: 10) { text += String(decoding: mail.bytes[..<nl], as: UTF8.self) + "\n" }
        if let s = mail.field("Subject") { text += " Subject: " + String(s.prefix(78)) + "\n" }
        let shown = "  Folder: " + String(folder.prefix(80))
        text += shown
        var i = shown.count - shown.count % 8
        repeat { text += "\t"; i += 8 } while i < 72
        let n = String(size)
        text += String(repeating: " ", count: max(0, 7 - n.count)) + n + "\n"
        log(text)
    }

    func isTrue(_ v: String?) -> Bool {
        guard let v = v?.lowercased(), let f = v.first else { return false }
        if f.isNumber { return (Int(v.prefix { $0.isNumber }) ?? 0) != 0 }
        return f == "y" || f == "t" || f == "e" || v.hasPrefix("on")
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// A path relative to MAILDIR (procmail changes into MAILDIR; we resolve against it).
    func resolve(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        let dir = vars["MAILDIR"] ?? vars["HOME"] ?? "/"
        return dir.hasSuffix("/") ? dir + p : dir + "/" + p
    }

    func environment() -> [String] {
        vars.compactMap { k, v in v.contains("\0") ? nil : "\(k)=\(v)" }.sorted()
    }

    /// Every command gets the mail through a pipe, which has no position (see ``lastTell``).
    public func runner() -> ProcmailCommandRunner {
        lastTell = -1
        let timeout = min(Double(vars["TIMEOUT"] ?? "") ?? limits.commandTimeout, limits.commandTimeout)
        return ProcmailCommandRunner(environment: environment(), shell: vars["SHELL"] ?? "/bin/sh",
                                     shellFlags: vars["SHELLFLAGS"] ?? "-c",
                                     shellMetas: vars["SHELLMETAS"] ?? "&|<>~;?*[",
                                     path: vars["PATH"] ?? "/usr/bin:/bin",
                                     directory: vars["MAILDIR"].flatMap { Posix.isDirectory($0) ? $0 : nil },
                                     timeout: timeout > 0 ? timeout : limits.commandTimeout,
                                     outputLimit: limits.captureSize, allowed: commandsAllowed,
                                     identity: commandIdentity)
    }
}

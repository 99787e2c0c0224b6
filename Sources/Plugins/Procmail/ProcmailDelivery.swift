import Pipeline

/// The kinds of folder a procmail action names.
public enum ProcmailFolderKind: Sendable, Equatable {
    case mbox, maildir, mh, discard
    /// An existing directory named without a trailing `/`: a file `prefix…` per message.
    case directory(prefix: String)
}

/// What the interpreter asks for each delivering action. `mdad procmail` passes one that
/// carries the action out at once (``ProcmailImmediateDelivery``) and reports success or
/// failure, as procmail does; the `rules` stage passes one that records the action for the
/// delivery backends and reports success (``ProcmailRecordingDelivery``).
public protocol ProcmailDelivery: AnyObject {
    /// Writes the mail to a folder; returns the LASTFOLDER name (the file written) on
    /// success, nil on failure. `isDefault` marks the delivery to DEFAULT at the end.
    func folder(_ path: String, kind: ProcmailFolderKind, mail: ProcmailMail, raw: Bool, isDefault: Bool) -> String?
    /// `! addresses`: hands `input` to the SENDMAIL command line `argv`; true on success.
    func forward(_ addresses: [String], argv: [String], input: [UInt8], environment: [String]) -> Bool
    /// `| command` (delivering): true when it succeeded (or its status is not checked).
    func pipe(_ command: String, input: [UInt8], run: ProcmailCommandRunner, checkStatus: Bool) -> Bool
}

/// How the interpreter runs commands (filters, backquotes, `?` conditions, captures, pipes):
/// the shell or a direct exec as procmail chooses, with the rc's variables as environment,
/// MAILDIR as working directory and a time limit, through ``Subprocess``.
public struct ProcmailCommandRunner: Sendable {
    public var environment: [String]
    public var shell: String
    public var shellFlags: String
    public var shellMetas: String
    public var path: String
    public var directory: String?
    public var timeout: Double
    public var outputLimit: Int
    /// Whether commands may run at all (`mdad rules test` shows a run without running any).
    public var allowed: Bool = true
    /// The user commands run as (nil = this process's identity): the rules stage under a root
    /// daemon runs each command as the recipient (``Subprocess/Identity``).
    public var identity: Subprocess.Identity? = nil

    public init(environment: [String], shell: String, shellFlags: String, shellMetas: String, path: String,
                directory: String?, timeout: Double, outputLimit: Int, allowed: Bool = true,
                identity: Subprocess.Identity? = nil) {
        self.environment = environment
        self.shell = shell
        self.shellFlags = shellFlags
        self.shellMetas = shellMetas
        self.path = path
        self.directory = directory
        self.timeout = timeout
        self.outputLimit = outputLimit
        self.allowed = allowed
        self.identity = identity
    }

    /// The argument vector procmail would exec: through SHELL when the command has any of
    /// SHELLMETAS, else its words directly (a program not found runs as a shell script).
    public func argv(_ command: String) -> [String] {
        if command.contains(where: { shellMetas.contains($0) }) || command.contains("\n") {
            return [Subprocess.locate(shell, path: path) ?? "/bin/sh"] + shellFlags.split(separator: " ").map(String.init) + [command]
        }
        var values: [String: String] = [:]
        for e in environment { if let eq = e.firstIndex(of: "=") { values[String(e[..<eq])] = String(e[e.index(after: eq)...]) } }
        let words = Self.words(command, variables: values)
        guard let first = words.first else { return ["/bin/sh", "-c", ""] }
        if let exe = Subprocess.locate(first, path: path) { return [exe] + words.dropFirst() }
        return ["/bin/sh"] + words
    }

    /// Splits a command into words as procmail does when it runs a program itself: blanks
    /// separate, '…' and "…" group (the quotes removed), `\` escapes one character, and
    /// `$NAME`/`${NAME}` outside '…' is the variable's value (procmail expands them itself
    /// when no shell is involved).
    static func words(_ command: String, variables: [String: String] = [:]) -> [String] {
        var out: [String] = []
        var cur = ""
        var inWord = false
        var quote: Character? = nil
        var escaped = false
        let chars = Array(command)
        var i = 0
        /// `$NAME` or `${NAME}` at `i` (on the `$`): its value and the index after it.
        func variable(at i: Int) -> (String, Int)? {
            var j = i + 1
            let braced = j < chars.count && chars[j] == "{"
            if braced { j += 1 }
            let start = j
            while j < chars.count, chars[j] == "_" || chars[j].isASCII && (chars[j].isLetter || chars[j].isNumber) { j += 1 }
            guard j > start, !chars[start].isNumber else { return nil }
            let name = String(chars[start..<j])
            if braced { guard j < chars.count, chars[j] == "}" else { return nil }; j += 1 }
            return (variables[name] ?? "", j)
        }
        while i < chars.count {
            let c = chars[i]
            i += 1
            if escaped { cur.append(c); escaped = false; inWord = true; continue }
            if c == "$", quote != "'", let (value, next) = variable(at: i - 1) {
                cur += value; inWord = true; i = next
                continue
            }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { cur.append(c) }
                continue
            }
            switch c {
            case "'", "\"": quote = c; inWord = true
            case "\\": escaped = true
            case " ", "\t":
                if inWord { out.append(cur); cur = ""; inWord = false }
            default: cur.append(c); inWord = true
            }
        }
        if inWord { out.append(cur) }
        return out
    }

    /// Runs `command` with `input` on its standard input.
    public func run(_ command: String, input: [UInt8], captureOutput: Bool = true) -> Subprocess.Result? {
        guard allowed else { return nil }
        return try? Subprocess.run(argv(command), environment: environment,
                                   options: .init(timeout: timeout, outputLimit: outputLimit,
                                                  captureOutput: captureOutput, workingDirectory: directory,
                                                  identity: identity),
                                   input: input)
    }
}

/// `mdad procmail`'s delivery: each action carried out at once, as procmail does, through the
/// project's own writers (MboxAppender with its locks, Maildir, MHFolder) and Subprocess.
public final class ProcmailImmediateDelivery: ProcmailDelivery {
    public let hostName: String
    /// The reasons of failures, for the log.
    public private(set) var errors: [String] = []

    public init(hostName: String) { self.hostName = hostName }

    public func folder(_ path: String, kind: ProcmailFolderKind, mail: ProcmailMail, raw: Bool, isDefault: Bool) -> String? {
        do {
            switch kind {
            case .discard:
                return path
            case .mbox:
                try MboxAppender(path: path).append(entry: mail.mboxEntry(raw: raw))
                return path
            case .maildir:
                // procmail writes the mail as it is, even a filter's output without an empty
                // line after its header.
                var message = try Message.parse(Spool(bytes: mail.withoutFromLine))
                message.verbatim = true
                let d = try Maildir(path: path, hostName: hostName).deliver(message)
                return path + "/new/" + (d.path.split(separator: "/").last.map(String.init) ?? "")
            case .mh:
                let file = try MHFolder(path: path).deliver(bytes: mail.mhMessage(raw: raw))
                return path + "/" + (file.split(separator: "/").last.map(String.init) ?? "")
            case .directory(let prefix):
                // procmail writes the same bytes as into an MH folder, under a unique name.
                let file = try MHFolder(path: path, uniquePrefix: prefix).deliver(bytes: mail.mhMessage(raw: raw))
                return path + "/" + (file.split(separator: "/").last.map(String.init) ?? "")
            }
        } catch {
            errors.append("Error while writing to \"\(path)\": \(error)")
            return nil
        }
    }

    public func forward(_ addresses: [String], argv: [String], input: [UInt8], environment: [String]) -> Bool {
        guard let exe = argv.first, let located = Subprocess.locate(exe) else {
            errors.append("Couldn't find \"\(argv.first ?? "")\"")
            return false
        }
        guard let r = try? Subprocess.run([located] + argv.dropFirst(), environment: environment,
                                          options: .init(timeout: 960, outputLimit: 4096), input: input) else { return false }
        if r.exitCode != 0 { errors.append("Program failure (\(r.summary)) of \"\(exe)\"") }
        return r.exitCode == 0
    }

    public func pipe(_ command: String, input: [UInt8], run: ProcmailCommandRunner, checkStatus: Bool) -> Bool {
        guard let r = run.run(command, input: input, captureOutput: false) else {
            errors.append("Failed forking \"\(command)\"")
            return false
        }
        if r.exitCode != 0 { errors.append("Program failure (\(r.summary)) of \"\(command)\"") }
        return !checkStatus || r.exitCode == 0
    }
}

/// The `rules` stage's delivery: records each action as a ``RecipientAction`` for the
/// delivery backends and reports success at once (so, unlike procmail, a failure later cannot
/// send the rc on to the next recipe; the MTA retries the whole message instead).
public final class ProcmailRecordingDelivery: ProcmailDelivery {
    public private(set) var actions: [RecipientAction] = []
    /// The message the actions are made from (the last filtered version), if a filter changed it.
    public private(set) var mail: ProcmailMail?
    let defaultMailbox: String?

    /// `defaultMailbox`: the user's own mailbox path; DEFAULT naming it becomes the implicit keep.
    public init(defaultMailbox: String?) { self.defaultMailbox = defaultMailbox }

    func note(_ m: ProcmailMail) { mail = m }

    public func folder(_ path: String, kind: ProcmailFolderKind, mail m: ProcmailMail, raw: Bool, isDefault: Bool) -> String? {
        note(m)
        switch kind {
        case .discard: actions.append(.discard)
        case .mbox:
            if path == defaultMailbox { actions.append(.store(folder: nil, flags: [])) } else {
                actions.append(.file(path: path, format: .mbox))
            }
        case .maildir:
            let bare = path.hasSuffix("/") ? String(path.dropLast()) : path
            if bare == defaultMailbox { actions.append(.store(folder: nil, flags: [])) } else {
                actions.append(.file(path: bare, format: .maildir))
            }
        case .mh: actions.append(.file(path: path, format: .mh))
        case .directory(let prefix):
            if path == defaultMailbox { actions.append(.store(folder: nil, flags: [])) } else {
                actions.append(.file(path: path, format: .directory(prefix: prefix)))
            }
        }
        return path
    }

    public func forward(_ addresses: [String], argv: [String], input: [UInt8], environment: [String]) -> Bool {
        for a in addresses { actions.append(.redirect(to: a, sender: nil)) }
        return true
    }

    public func pipe(_ command: String, input: [UInt8], run: ProcmailCommandRunner, checkStatus: Bool) -> Bool {
        // The blanks procmail keeps after `|` (for LASTFOLDER) mean nothing to the backend.
        actions.append(.pipe(command: String(command.drop { $0 == " " || $0 == "\t" })))
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// What a run sees besides the message: the envelope, the user, the stores and the limits.
public struct SieveEnvironment: Sendable {
    /// The envelope sender; empty for `<>`.
    public var sender: String
    /// The final recipient (envelope "to").
    public var recipient: String
    public var originalRecipient: String?
    public var recipientDelimiter: String
    /// The folder keep stores into.
    public var defaultMailbox = "INBOX"
    /// Whether a mailbox exists (mailboxexists); INBOX always does.
    public var mailboxExists: @Sendable (String) -> Bool = { _ in false }
    /// Whether the duplicate store has seen a key (duplicate test).
    public var duplicateSeen: @Sendable (String) -> Bool = { _ in false }
    public var now: Int
    public var limits = SieveLimits()

    public init(sender: String, recipient: String, originalRecipient: String? = nil, recipientDelimiter: String = "+",
                now: Int) {
        self.sender = sender
        self.recipient = recipient
        self.originalRecipient = originalRecipient
        self.recipientDelimiter = recipientDelimiter
        self.now = now
    }
}

/// Limits that keep one run bounded (Pigeonhole's names where it has them).
public struct SieveLimits: Sendable {
    public var maxRedirects = 4
    public var maxActions = 32
    public var maxIncludeDepth = 10
    /// Commands and tests evaluated per run: a looping or huge script stops here.
    public var maxSteps = 1_000_000
    /// Wall-clock seconds one run may take (checked every 1,024 steps; 0 = no limit).
    public var maxSeconds = 30
    public var maxVariableSize = 4096
    public var maxVariables = 255
    public var minVacationPeriod = 86_400
    public var maxVacationPeriod = 60 * 86_400
    public var defaultVacationPeriod = 7 * 86_400
    public init() {}

    /// The limits main.cf sets (`sieve_max_redirects`, `sieve_max_actions`, …).
    public init(configuration config: Configuration) throws(ConfigError) {
        maxRedirects = try config.integer("sieve_max_redirects")
        maxActions = try config.integer("sieve_max_actions")
        maxIncludeDepth = try config.integer("sieve_include_max_nesting_depth")
        maxSteps = try config.integer("sieve_max_steps")
        maxSeconds = try config.seconds("sieve_max_cpu_time")
        minVacationPeriod = try config.seconds("sieve_vacation_min_period")
        maxVacationPeriod = try config.seconds("sieve_vacation_max_period")
        defaultVacationPeriod = try config.seconds("sieve_vacation_default_period")
    }
}

/// Runs a compiled program over one message: pure over (message, environment); the only
/// outside state it reads is what the environment's closures answer.
final class SieveInterpreter {
    enum Flow { case next, stop, ret }

    let program: SieveProgram
    let env: SieveEnvironment
    let message: Message
    var header: [HeaderField]
    var result = SieveResult()
    var flags: [String] = []
    var steps = 0
    var redirects = 0
    /// The variables of the script running now, and those declared global.
    var locals: [String: String] = [:]
    var globals: [String: String] = [:]
    var globalNames: Set<String> = []
    var matchValues: [String] = []
    var extensions: Set<String> = []
    var included: Set<String> = []
    var depth = 0
    var cachedSize: Int?
    /// Field positions by lower-case name, and decoded values by name, for this run's header.
    var fieldIndex: [String: [Int]]?
    var decodedHeaders: [String: [String]] = [:]
    var parsedAddresses: [String: [[(local: String, domain: String?)]]] = [:]
    var started = timespec()
    /// Stores made by scripts without imap4flags: they get the final flags.
    var flagsAtEnd: [Int] = []
    /// What `mdad trace` shows, when it asks (nil otherwise): each test that matched and each
    /// action, with the script and line.
    var traceLog: [SieveTraceStep]?
    var scriptName = ""
    lazy var structure: MIMEStructure? = try? MIMEStructure.parse(message)
    lazy var messageText: MessageText? = structure.flatMap { try? MessageText(message: message, structure: $0) }

    init(program: SieveProgram, message: Message, environment: SieveEnvironment) {
        self.program = program
        self.env = environment
        self.message = message
        self.header = message.header.fields
    }

    func run() throws(SieveRuntimeError) -> SieveResult {
        clock_gettime(CLOCK_MONOTONIC, &started)
        _ = try runScript(program.main)
        result.implicitKeepFlags = flags
        for i in flagsAtEnd {
            if case .store(let f, _, let c, let cr) = result.actions[i] { result.actions[i] = .store(folder: f, flags: flags, copy: c, create: cr) }
        }
        if result.headerEdited { result.editedHeader = HeaderSection(header) }
        return result
    }

    /// Runs one script with its own variables and extensions (an included script too);
    /// `stop` anywhere ends the whole run, `return` only this script.
    func runScript(_ script: SieveScript) throws(SieveRuntimeError) -> Flow {
        let savedExtensions = extensions, savedLocals = locals, savedMatch = matchValues, savedGlobalNames = globalNames
        extensions = script.extensions
        let savedName = scriptName
        scriptName = script.name
        defer { scriptName = savedName }
        locals = [:]
        matchValues = []
        globalNames = []
        defer {
            extensions = savedExtensions
            locals = savedLocals
            matchValues = savedMatch
            globalNames = savedGlobalNames
        }
        return try execute(script.commands) == .stop ? .stop : .next
    }

    func step() throws(SieveRuntimeError) {
        steps += 1
        if steps > env.limits.maxSteps { throw SieveRuntimeError("execution exceeded the step limit of \(env.limits.maxSteps)") }
        if steps & 1023 == 0, env.limits.maxSeconds > 0 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if now.tv_sec - started.tv_sec >= env.limits.maxSeconds {
                throw SieveRuntimeError("execution exceeded the time limit of \(env.limits.maxSeconds)s")
            }
        }
    }

    func execute(_ commands: [SieveCommand]) throws(SieveRuntimeError) -> Flow {
        for c in commands {
            try step()
            let f = try execute(c)
            if f != .next { return f }
        }
        return .next
    }

    func execute(_ c: SieveCommand) throws(SieveRuntimeError) -> Flow {
        if traceLog != nil, let (line, text) = c.traceAction { note(line, text) }
        switch c {
        case .ifChain(let branches, let otherwise):
            for (i, b) in branches.enumerated() where try evaluate(b.test) {
                if traceLog != nil { note(b.line, "\(i == 0 ? "if" : "elsif") test \(b.test.traceName) matched") }
                return try execute(b.block)
            }
            if let otherwise {
                if traceLog != nil, let last = branches.last { note(last.line, "no test matched: else") }
                return try execute(otherwise)
            }
            return .next
        case .stop:
            return .stop
        case .keep(let f, _):
            let fl = try f.map { (l: [SieveString]) throws(SieveRuntimeError) in SieveFlags.parse(try expand(l)) } ?? flags
            try addStore(env.defaultMailbox, flags: fl, copy: false, create: false, keep: true)
        case .discard:
            result.implicitKeep = false
            if !result.actions.contains(.discard) { result.actions.append(.discard) }
        case .fileinto(let mailbox, let f, let copy, let create, _):
            let name = try expand(mailbox)
            guard SieveMailboxNames.problem(name) == nil else { throw SieveRuntimeError("fileinto: invalid folder name `\(name)'") }
            let fl = try f.map { (l: [SieveString]) throws(SieveRuntimeError) in SieveFlags.parse(try expand(l)) } ?? flags
            try addStore(name, flags: fl, copy: copy, create: create)
        case .redirect(let address, let copy, _):
            let a = try expand(address)
            guard SieveAddresses.isValidRedirect(a) else { throw SieveRuntimeError("specified redirect address '\(a)' is invalid") }
            let bare = SieveAddresses.bare(a)
            try checkReject(adding: "redirect")
            // A second redirect to the same address is the first one (Pigeonhole's duplicate check).
            if result.actions.contains(where: { if case .redirect(let t, _) = $0 { return t.lowercased() == bare.lowercased() } else { return false } }) {
                return .next
            }
            if !copy { result.implicitKeep = false }
            redirects += 1
            if redirects > env.limits.maxRedirects { throw SieveRuntimeError("number of redirect actions exceeds policy limit (\(env.limits.maxRedirects))") }
            try addAction(.redirect(to: bare, copy: copy))
        case .reject(let reason, let extended, _):
            let r = try expand(reason)
            if result.actions.contains(where: { if case .reject = $0 { return true } else { return false } }) {
                throw SieveRuntimeError("duplicate reject/ereject action not allowed")
            }
            if let other = result.actions.first(where: Self.triesDelivery) {
                throw SieveRuntimeError("reject/ereject action conflicts with other action: the \(Self.actionName(other)) action tries to deliver the message")
            }
            result.implicitKeep = false
            try addAction(.reject(reason: r, extended: extended))
        case .set(let name, let value, let modifiers):
            try setVariable(name, SieveStrings.apply(modifiers, to: try expand(value)))
        case .flags(let op, let variable, let list):
            let given = SieveFlags.parse(try expand(list))
            let current = try variable.map { (v: SieveString) throws(SieveRuntimeError) in SieveFlags.parse([variableValue(try expand(v))]) } ?? flags
            let updated: [String]
            switch op {
            case .set: updated = given
            case .add: updated = SieveFlags.add(current, given)
            case .remove: updated = SieveFlags.remove(current, given)
            }
            if let variable { try setVariable(try expand(variable), updated.joined(separator: " ")) } else { flags = updated }
        case .vacation(let spec, _):
            try vacation(spec)
        case .addheader(let name, let value, let last, _):
            try addHeader(try expand(name), try expand(value), last: last)
        case .deleteheader(let name, let m, let index, _):
            try deleteHeader(try expand(name), m, index: index)
        case .include(let key, let once, let optional, _):
            if once, included.contains(key) { return .next }
            included.insert(key)
            guard let script = program.library[key] else {
                if optional || program.missing.contains(key) { return .next }
                throw SieveRuntimeError("include: script '\(key)' is not available")
            }
            guard depth < env.limits.maxIncludeDepth else {
                throw SieveRuntimeError("include: the nesting depth exceeds the limit of \(env.limits.maxIncludeDepth)")
            }
            depth += 1
            defer { depth -= 1 }
            let flow = try runScript(script)
            if flow == .stop { return .stop }
        case .return:
            return .ret
        case .global(let names):
            for n in names { globalNames.insert(n) }
        case .notify(let spec, _):
            try notify(spec)
        case .error(let m, _):
            throw SieveRuntimeError(try expand(m))
        }
        return .next
    }

    func note(_ line: Int, _ text: String) {
        if (traceLog?.count ?? 0) < env.limits.maxActions * 8 { traceLog?.append(SieveTraceStep(script: scriptName, line: line, text: text)) }
    }

    static func triesDelivery(_ a: SieveAction) -> Bool {
        switch a {
        case .store, .redirect, .vacation: return true
        default: return false
        }
    }

    static func actionName(_ a: SieveAction) -> String {
        switch a {
        case .store: return "store"
        case .redirect: return "redirect"
        case .vacation: return "vacation"
        default: return "other"
        }
    }

    func checkReject(adding what: String) throws(SieveRuntimeError) {
        if result.actions.contains(where: { if case .reject = $0 { return true } else { return false } }) {
            throw SieveRuntimeError("\(what) action conflicts with earlier reject/ereject action")
        }
    }

    func addAction(_ a: SieveAction) throws(SieveRuntimeError) {
        if result.actions.count >= env.limits.maxActions {
            throw SieveRuntimeError("total number of actions exceeds policy limit (\(env.limits.maxActions))")
        }
        result.actions.append(a)
    }

    /// keep and fileinto: a second store into the same folder merges with the first, as
    /// Pigeonhole merges them: the first one's :copy and :create stay, the latest flags are the
    /// ones set, and the implicit keep is left as it was.
    func addStore(_ folder: String, flags: [String], copy: Bool, create: Bool, keep: Bool = false) throws(SieveRuntimeError) {
        try checkReject(adding: "store")
        let name = folder
        // INBOX is one mailbox however it is spelled; a keep merging in names it as keep does.
        func same(_ a: String, _ b: String) -> Bool {
            a == b || (SieveStrings.asciiUpper(a) == "INBOX" && SieveStrings.asciiUpper(b) == "INBOX")
        }
        for (i, a) in result.actions.enumerated() {
            if case .store(let f, _, let c, let cr) = a, same(f, name) {
                result.actions[i] = .store(folder: keep ? name : f, flags: flags, copy: c, create: cr)
                return
            }
        }
        if !copy { result.implicitKeep = false }
        // A store in a script that does not use imap4flags takes the flags the run ends with,
        // as the implicit keep does (Pigeonhole: flags an included script sets reach it).
        if !extensions.contains("imap4flags") { flagsAtEnd.append(result.actions.count) }
        try addAction(.store(folder: name, flags: flags, copy: copy, create: create))
    }

    // MARK: variables

    func variableValue(_ name: String) -> String {
        let n = name.lowercased()
        if globalNames.contains(n) { return globals[n] ?? "" }
        return locals[n] ?? ""
    }

    func setVariable(_ name: String, _ value: String) throws(SieveRuntimeError) {
        let n = name.lowercased()
        var v = value
        if v.utf8.count > env.limits.maxVariableSize {
            v = String(decoding: Array(v.utf8.prefix(env.limits.maxVariableSize)), as: UTF8.self)
        }
        if globalNames.contains(n) { globals[n] = v; return }
        if locals[n] == nil, locals.count >= env.limits.maxVariables {
            throw SieveRuntimeError("the number of variables exceeds the limit of \(env.limits.maxVariables)")
        }
        locals[n] = v
    }

    func expand(_ s: SieveString) throws(SieveRuntimeError) -> String {
        if let l = s.literal { return l }
        var out = ""
        for p in s.parts {
            switch p {
            case .text(let t): out += t
            case .variable(let n): out += variableValue(n)
            case .match(let i): out += i < matchValues.count ? matchValues[i] : ""
            }
            if out.utf8.count > 1 << 20 { throw SieveRuntimeError("expanded string is too long") }
        }
        return out
    }

    func expand(_ l: [SieveString]) throws(SieveRuntimeError) -> [String] {
        var out: [String] = []
        for s in l { out.append(try expand(s)) }
        return out
    }
}

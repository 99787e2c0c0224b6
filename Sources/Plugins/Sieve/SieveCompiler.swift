import Pipeline

/// Validates a parsed script and compiles it into ``SieveScript``: `require` checks, argument
/// checks, constant patterns compiled. Included scripts are listed for the loader.
struct SieveCompiler {
    /// Every capability mdad implements, as `require` names them.
    static let capabilities: Set<String> = [
        "fileinto", "envelope", "reject", "ereject", "variables", "imap4flags", "body",
        "relational", "subaddress", "copy", "regex", "mailbox", "encoded-character", "include",
        "editheader", "vacation", "vacation-seconds", "date", "index", "duplicate", "enotify",
        "comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric",
    ]

    let script: String
    var extensions: Set<String> = []
    /// (key, location, name, line) of each include, for the loader.
    var includes: [(key: String, location: SieveIncludeLocation, name: String, optional: Bool, line: Int)] = []
    var regexLimits = PCRERegex.Limits()
    /// The script's bytes, for the columns of errors.
    var bytes: [UInt8] = []
    /// Every validation error so far: a command that fails is reported and skipped, and
    /// validation goes on with the next (Pigeonhole reports all of a script's errors).
    var errors: [SieveError] = []

    init(script: String) { self.script = script }

    func error(_ line: Int, _ message: String) -> SieveError { SieveError(script: script, line: line, message) }

    var tooMany: Bool { errors.count >= SieveError.maxErrors }

    /// Records an error of `node`: with the column of the command or test on the error's line,
    /// and once only for the errors Pigeonhole reports "only once at first occurrence".
    mutating func report(_ e: SieveError, node: SieveNode) {
        guard !tooMany else { return }
        var e = e
        if e.column == 0, let at = Self.node(on: e.line, in: node) { e.column = SieveError.column(of: at.offset, in: bytes) }
        // An argument on a line of its own (a command written over several lines): where that
        // line's text starts, which is the argument the error is about.
        if e.column == 0 { e.column = SieveError.firstColumn(ofLine: e.line, in: bytes) }
        // Pigeonhole reports an unknown name once, whether it was used as a command or a test.
        func key(_ m: String) -> String { m.hasPrefix("unknown test '") ? "unknown command '" + m.dropFirst(14) : m }
        if e.message.contains("once at first occurrence"), errors.contains(where: { key($0.message) == key(e.message) }) { return }
        errors.append(e)
    }

    static func node(on line: Int, in n: SieveNode) -> SieveNode? {
        // The innermost test on that line: a test's error points at the test, not its command.
        for t in n.tests { if let found = node(on: line, in: t) { return found } }
        return n.line == line ? n : nil
    }

    static func compile(_ bytes: [UInt8], name: String) throws(SieveError) -> (SieveScript, [(key: String, location: SieveIncludeLocation, name: String, optional: Bool, line: Int)]) {
        let nodes = try SieveParser.parse(bytes, script: name)
        var c = SieveCompiler(script: name)
        c.bytes = bytes
        let commands = c.topLevel(nodes)
        if let e = SieveError.collected(c.errors, phase: "validation") { throw e }
        return (SieveScript(name: name, commands: commands, extensions: c.extensions), c.includes)
    }

    mutating func topLevel(_ nodes: [SieveNode]) -> [SieveCommand] {
        var i = 0
        while i < nodes.count, nodes[i].name.lowercased() == "require" {
            do throws(SieveError) { try require(nodes[i]) } catch { report(error, node: nodes[i]) }
            i += 1
        }
        return block(Array(nodes[i...]))
    }

    mutating func require(_ node: SieveNode) throws(SieveError) {
        let a = try SieveArguments(node, kind: "command", script: script, spec: [:])
        try a.expectPositional([("capabilities", .strings)])
        guard node.tests.isEmpty, node.block == nil else { throw error(node.line, "the require command accepts no tests or block") }
        for cap in a.positionalStrings(0) {
            guard Self.capabilities.contains(cap) else {
                throw error(node.line, "require command: unknown Sieve capability `\(cap)'")
            }
            extensions.insert(cap)
        }
    }

    func needs(_ ext: String, _ line: Int, _ what: String) throws(SieveError) {
        if !extensions.contains(ext) {
            throw error(line, "\(what) (the \(ext) extension is not required with require)")
        }
    }

    mutating func block(_ nodes: [SieveNode]) -> [SieveCommand] {
        var out: [SieveCommand] = []
        var i = 0
        while i < nodes.count, !tooMany {
            let n = nodes[i]
            let name = n.name.lowercased()
            if name == "if" {
                // The if, its elsifs and its else: each test and block is validated, so the
                // errors in all of them are reported.
                var chain = [n]
                var elseNode: SieveNode?
                while i + 1 < nodes.count {
                    let nn = nodes[i + 1].name.lowercased()
                    if nn == "elsif" {
                        chain.append(nodes[i + 1])
                        i += 1
                    } else if nn == "else" {
                        elseNode = nodes[i + 1]
                        i += 1
                        break
                    } else { break }
                }
                var branches: [(test: SieveTest, block: [SieveCommand], line: Int)] = []
                var valid = true
                var reachable = true
                for c in chain where reachable {
                    var test: SieveTest?
                    do throws(SieveError) { test = try conditionTest(c) } catch { report(error, node: c) }
                    // As Pigeonhole folds constant tests: the block of `false` is never run and
                    // not validated; after `true` the elsifs and the else are never run.
                    if case .constant(false)? = test { continue }
                    if case .constant(true)? = test { reachable = false }
                    let b = block(c.block ?? [])
                    if let test { branches.append((test, b, c.line)) } else { valid = false }
                }
                var otherwise: [SieveCommand]? = nil
                if let e = elseNode, reachable {
                    if e.arguments.isEmpty, e.tests.isEmpty, let b = e.block {
                        otherwise = block(b)
                    } else {
                        report(error(e.line, "the else command accepts no arguments or tests and requires a block"), node: e)
                        valid = false
                    }
                }
                if valid { out.append(.ifChain(branches: branches, otherwise: otherwise)) }
            } else {
                do throws(SieveError) {
                    if name == "elsif" || name == "else" {
                        // As Pigeonhole: an elsif after a stray elsif follows "an elsif" and is
                        // only validated.
                        if name == "elsif", i > 0, nodes[i - 1].name.lowercased() == "elsif" {
                            _ = block([SieveNode(name: "if", line: n.line, arguments: n.arguments, tests: n.tests,
                                                 testList: n.testList, block: n.block, offset: n.offset)])
                            i += 1
                            continue
                        }
                        throw error(n.line, "the \(name) command must follow an if or elseif command")
                    } else if name == "require" {
                        throw error(n.line, "require command can only be placed at top level at the beginning of the file")
                    }
                    guard n.block == nil else { throw error(n.line, "the \(name) command does not take a block") }
                    if !n.tests.isEmpty { throw error(n.line, "the \(name) command accepts no tests") }
                    out.append(try command(n))
                } catch {
                    report(error, node: n)
                }
            }
            i += 1
        }
        return out
    }

    mutating func conditionTest(_ n: SieveNode) throws(SieveError) -> SieveTest {
        guard n.block != nil else { throw error(n.line, "the \(n.name) command requires a block") }
        guard n.arguments.isEmpty, n.tests.count == 1, !n.testList else {
            throw error(n.line, "the \(n.name) command requires one test")
        }
        return try test(n.tests[0])
    }

    // MARK: strings

    /// A constant-or-variable string as the script's extensions read it.
    func string(_ s: String) -> SieveString {
        var text = s
        if extensions.contains("encoded-character") { text = SieveStrings.decodeEncodedCharacters(text) }
        if extensions.contains("variables") { return SieveStrings.split(text) }
        return SieveString(literal: text)
    }

    func strings(_ l: [String]) -> [SieveString] { l.map(string) }

    // MARK: commands

    mutating func command(_ n: SieveNode) throws(SieveError) -> SieveCommand {
        let name = n.name.lowercased()
        switch name {
        case "stop":
            _ = try SieveArguments(n, kind: "command", script: script, spec: [:]).expectPositional([])
            return .stop
        case "keep":
            var spec: [String: SieveArguments.TagValue] = [:]
            if extensions.contains("imap4flags") { spec["flags"] = .strings }
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            try a.expectPositional([])
            return .keep(flags: a.strings("flags").map(strings), line: n.line)
        case "discard":
            try SieveArguments(n, kind: "command", script: script, spec: [:]).expectPositional([])
            return .discard(line: n.line)
        case "redirect":
            var spec: [String: SieveArguments.TagValue] = [:]
            if extensions.contains("copy") { spec["copy"] = .flag }
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            try a.expectPositional([("address", .string)])
            let address = string(a.positionalStrings(0)[0])
            if let lit = address.literal, !SieveAddresses.isValidRedirect(lit) {
                throw error(n.line, "specified redirect address '\(lit)' is invalid")
            }
            return .redirect(address: address, copy: a.has("copy"), line: n.line)
        case "fileinto":
            try needs("fileinto", n.line, "unknown command 'fileinto' (only reported once at first occurrence)")
            var spec: [String: SieveArguments.TagValue] = [:]
            if extensions.contains("copy") { spec["copy"] = .flag }
            if extensions.contains("imap4flags") { spec["flags"] = .strings }
            if extensions.contains("mailbox") { spec["create"] = .flag }
            let a = try SieveArguments(n, kind: "command", script: script, spec: spec)
            try a.expectPositional([("folder", .string)])
            let folder = string(a.positionalStrings(0)[0])
            if let lit = folder.literal, let why = SieveMailboxNames.problem(lit) {
                throw error(n.line, "fileinto command: invalid folder name `\(lit)' specified: \(why)")
            }
            return .fileinto(mailbox: folder, flags: a.strings("flags").map(strings),
                             copy: a.has("copy"), create: a.has("create"), line: n.line)
        case "reject", "ereject":
            try needs(name, n.line, "unknown command '\(name)' (only reported once at first occurrence)")
            let a = try SieveArguments(n, kind: "command", script: script, spec: [:])
            try a.expectPositional([("reason", .string)])
            return .reject(reason: string(a.positionalStrings(0)[0]), extended: name == "ereject", line: n.line)
        default:
            return try extensionCommand(n, name: name)
        }
    }

    // MARK: tests

    /// The match type and comparator tags every matching test takes.
    func matchSpec(_ extra: [String: SieveArguments.TagValue] = [:]) -> [String: SieveArguments.TagValue] {
        var spec = extra
        spec["comparator"] = .string
        spec["is"] = .flag
        spec["contains"] = .flag
        spec["matches"] = .flag
        if extensions.contains("regex") { spec["regex"] = .flag }
        if extensions.contains("relational") { spec["value"] = .string; spec["count"] = .string }
        return spec
    }

    func addressPartSpec(_ spec: inout [String: SieveArguments.TagValue]) {
        spec["all"] = .flag
        spec["localpart"] = .flag
        spec["domain"] = .flag
        if extensions.contains("subaddress") { spec["user"] = .flag; spec["detail"] = .flag }
    }

    func addressPart(_ a: SieveArguments) throws(SieveError) -> SieveAddressPart {
        let given = ["all", "localpart", "domain", "user", "detail"].filter(a.has)
        if given.count > 1 { throw error(a.node.line, "the \(a.node.name) test accepts only one address part, but :\(given[0]) and :\(given[1]) were given") }
        switch given.first {
        case "localpart": return .localpart
        case "domain": return .domain
        case "user": return .user
        case "detail": return .detail
        default: return .all
        }
    }

    func indexSpec(_ spec: inout [String: SieveArguments.TagValue]) {
        if extensions.contains("index") { spec["index"] = .number; spec["last"] = .flag }
    }

    func index(_ a: SieveArguments) throws(SieveError) -> SieveIndex? {
        if a.has("last"), !a.has("index") { throw error(a.node.line, "the :last tag for the \(a.node.name) \(a.kind) requires the :index tag") }
        guard let n = a.number("index") else { return nil }
        if n == 0 { throw error(a.node.line, "the :index tag for the \(a.node.name) \(a.kind) requires a positive number") }
        return SieveIndex(index: n, last: a.has("last"))
    }

    func matcher(_ a: SieveArguments, keys: [String]) throws(SieveError) -> SieveMatcher {
        var m = SieveMatcher()
        let types = ["is", "contains", "matches", "regex", "value", "count"].filter(a.has)
        if types.count > 1 { throw error(a.node.line, "exactly one match type must be given to the \(a.node.name) \(a.kind), but :\(types[0]) and :\(types[1]) were given") }
        if let cmp = a.string("comparator") {
            guard let c = SieveComparator(rawValue: cmp.lowercased()) else {
                throw error(a.node.line, "unknown comparator '\(cmp)'")
            }
            if c == .asciiNumeric, !extensions.contains("comparator-i;ascii-numeric") {
                throw error(a.node.line, "unknown comparator '\(cmp)'")
            }
            m.comparator = c
        }
        switch types.first {
        case "contains": m.type = .contains
        case "matches": m.type = .matches
        case "regex": m.type = .regex
        case "value", "count":
            let rel = a.string(types[0])!
            guard let r = SieveRelation(rawValue: rel.lowercased()) else {
                throw error(a.node.line, "invalid relational match '\(rel)': expected one of gt, ge, lt, le, eq, ne")
            }
            m.type = types[0] == "value" ? .value(r) : .count(r)
        default: m.type = .is
        }
        if m.comparator == .asciiNumeric, m.type == .contains || m.type == .matches || m.type == .regex {
            throw error(a.node.line, "the specified :\(types[0]) match type cannot be used with the i;ascii-numeric comparator")
        }
        m.keys = strings(keys)
        if m.type == .regex {
            m.regexes = try m.keys.map { (k: SieveString) throws(SieveError) -> PCRERegex? in
                guard let lit = k.literal else { return nil }
                do { return try PCRERegex(lit, options: m.comparator == .asciiCasemap ? [.utf, .caseless] : [.utf], limits: regexLimits) }
                catch let e as PCRERegex.Error { throw self.error(a.node.line, "invalid regular expression '\(lit)' for regex match: \(e.message)") }
                catch { throw self.error(a.node.line, "invalid regular expression '\(lit)'") }
            }
        }
        return m
    }

    mutating func test(_ n: SieveNode) throws(SieveError) -> SieveTest {
        let name = n.name.lowercased()
        func noArgs() throws(SieveError) {
            guard n.arguments.isEmpty, n.tests.isEmpty else { throw error(n.line, "the \(name) test accepts no arguments") }
        }
        if name != "allof", name != "anyof", name != "not", !n.tests.isEmpty {
            throw error(n.line, "the \(name) test accepts no sub-tests")
        }
        switch name {
        case "true": try noArgs(); return .constant(true)
        case "false": try noArgs(); return .constant(false)
        case "not":
            guard n.arguments.isEmpty, n.tests.count == 1, !n.testList else { throw error(n.line, "the not test requires one test") }
            return .not(try test(n.tests[0]))
        case "allof", "anyof":
            guard n.arguments.isEmpty, n.testList, !n.tests.isEmpty else { throw error(n.line, "the \(name) test requires a list of tests") }
            var tests: [SieveTest] = []
            for t in n.tests { tests.append(try test(t)) }
            return name == "allof" ? .allof(tests) : .anyof(tests)
        case "exists":
            let a = try SieveArguments(n, kind: "test", script: script, spec: [:])
            try a.expectPositional([("header names", .strings)])
            return .exists(strings(a.positionalStrings(0)))
        case "size":
            let a = try SieveArguments(n, kind: "test", script: script, spec: ["over": .flag, "under": .flag])
            try a.expectPositional([("limit", .number)])
            guard a.has("over") != a.has("under") else { throw error(n.line, "the size test requires either the :under or the :over tag") }
            return .size(over: a.has("over"), limit: a.positionalNumber(0))
        case "header":
            var spec = matchSpec()
            indexSpec(&spec)
            if extensions.contains("mime") { spec["mime"] = .flag }
            let a = try SieveArguments(n, kind: "test", script: script, spec: spec)
            try a.expectPositional([("header names", .strings), ("key list", .strings)])
            return .header(names: strings(a.positionalStrings(0)), try matcher(a, keys: a.positionalStrings(1)),
                           index: try index(a), mime: false)
        case "address":
            var spec = matchSpec()
            addressPartSpec(&spec)
            indexSpec(&spec)
            let a = try SieveArguments(n, kind: "test", script: script, spec: spec)
            try a.expectPositional([("header list", .strings), ("key list", .strings)])
            return .address(names: strings(a.positionalStrings(0)), part: try addressPart(a),
                            try matcher(a, keys: a.positionalStrings(1)), index: try index(a))
        case "envelope":
            try needs("envelope", n.line, "unknown test 'envelope' (only reported once at first occurrence)")
            var spec = matchSpec()
            addressPartSpec(&spec)
            let a = try SieveArguments(n, kind: "test", script: script, spec: spec)
            try a.expectPositional([("envelope part", .strings), ("key list", .strings)])
            for p in a.positionalStrings(0) where !["from", "to", "auth"].contains(p.lowercased()) && !p.contains("${") {
                throw error(n.line, "specified envelope part '\(p)' is not supported by the envelope test")
            }
            return .envelope(parts: strings(a.positionalStrings(0)), part: try addressPart(a),
                             try matcher(a, keys: a.positionalStrings(1)))
        default:
            return try extensionTest(n, name: name)
        }
    }
}

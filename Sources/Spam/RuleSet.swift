import Pipeline

/// SpamAssassin rule files compiled: immutable, shared by every message (and every thread),
/// built once when the stage is configured.
///
/// Compilation turns each rule's Perl regex into a JIT-compiled PCRE2 pattern, extracts the
/// literals its matches need (``RequiredLiterals``) and builds one ``LiteralScanner`` per rule
/// type, so that checking a message is one scan per text plus the regexes of the few rules
/// whose literals occur — not thousands of regexes over every message.
public final class RuleSet: Sendable {
    /// One compiled rule; a class so that reading one while checking a message costs one
    /// reference, not a copy of every field.
    final class Rule: Sendable {
        let name: String
        let type: RuleType
        let origin: String
        /// The rule's regex; more than one when it had to be split (any of them matching is a match).
        let regexes: [PCRERegex]
        var regex: PCRERegex? { regexes.first }
        let header: (query: HeaderQuery, test: HeaderTest, ifUnset: [UInt8]?)?
        /// The slot of `header.query` in ``RuleSet/headerQueries``.
        let querySlot: Int
        let eval: EvalCall?
        let meta: Expression?
        let score: Double
        let describe: String
        let multiple: Bool
        let maxHits: Int
        /// Indices into the type's literal list; nil = no prefilter, always run.
        let literals: [Int]?
        /// False when the rule is not run: score 0, a network test, or it did not compile.
        let enabled: Bool
        let isSubrule: Bool
        /// The names a meta rule refers to, as written.
        let dependencies: [String]

        init(name: String, type: RuleType, origin: String, regexes: [PCRERegex],
             header: (query: HeaderQuery, test: HeaderTest, ifUnset: [UInt8]?)?, querySlot: Int, eval: EvalCall?,
             meta: Expression?, score: Double, describe: String, multiple: Bool, maxHits: Int, literals: [Int]?, enabled: Bool,
             dependencies: [String]? = nil) {
            self.name = name
            self.type = type
            self.origin = origin
            self.regexes = regexes
            self.header = header
            self.querySlot = querySlot
            self.eval = eval
            self.meta = meta
            self.score = score
            self.describe = describe
            self.multiple = multiple
            self.maxHits = maxHits
            self.literals = literals
            self.enabled = enabled
            self.isSubrule = name.hasPrefix("__")
            self.dependencies = dependencies ?? meta?.names ?? []
        }

        /// The same rule with its meta expression's names replaced by rule indices.
        func resolving(_ index: [String: Int]) -> Rule {
            let r = Rule(name: name, type: type, origin: origin, regexes: regexes, header: header, querySlot: querySlot, eval: eval,
                 meta: meta?.resolved(index), score: score, describe: describe, multiple: multiple, maxHits: maxHits,
                 literals: literals, enabled: enabled, dependencies: dependencies)
            return r
        }
    }

    /// What the files said that mdad could not use, for `mdad spam lint` and the log.
    public struct Diagnostics: Sendable {
        /// `file:line: what was expected`.
        public var errors: [String] = []
        /// Directive → (count, first place).
        public var unknownDirectives: [(name: String, count: Int, first: String)] = []
        /// Rules whose regex PCRE2 cannot take: (rule, origin, reason).
        public var unsupportedRegexes: [(rule: String, origin: String, reason: String)] = []
        /// eval: functions not implemented in mdad, with the rules that call them.
        public var unsupportedEvals: [(function: String, rules: [String])] = []
        /// Meta rules that refer to rules that do not exist.
        public var undefinedDependencies: [(rule: String, missing: String)] = []
        public var files: [String] = []
    }

    let rules: [Rule]
    let index: [String: Int]
    /// Every distinct header query the header rules make, looked up once per message.
    let headerQueries: [HeaderQuery]
    let byType: [RuleType: [Int]]
    let scanners: [RuleType: LiteralScanner]
    /// Meta rules in an order where every meta comes after the metas it uses.
    let metaOrder: [Int]
    public let requiredScore: Double
    public let diagnostics: Diagnostics
    let spamHeaders: [(name: String, template: String)]
    let hamHeaders: [(name: String, template: String)]
    let rewriteHeaders: [String: String]
    let reportTemplate: [String]
    let welcomelist: [String]
    let blocklist: [String]
    public let limits: PCRERegex.Limits
    /// The four score sets of every rule with a `score` line, and every rule's tflags: the
    /// Bayes score sets and auto-learning read them.
    let scoreSets: [String: [Double]]
    let tflags: [String: [String]]
    let bayesSettings: [(key: String, value: String)]
    let registry: RegistryBoundaries
    /// Compiled when a header rule asks for `:host` or `:domain`.
    let hostFinder: RegistryBoundaries.HostFinder?

    /// The number of rules read, and of rules that run.
    public var ruleCount: Int { rules.count }
    public var enabledCount: Int { rules.filter(\.enabled).count }

    /// Reads and compiles the rule files at `paths` (directories or files).
    public static func load(paths: [String], limits: PCRERegex.Limits = PCRERegex.Limits()) -> RuleSet {
        var reader = RuleFileReader()
        reader.read(paths: paths)
        return RuleSet(reader.config, limits: limits)
    }

    /// Compiles rule text given inline (tests, `--cf`); `name` stands for the file in messages.
    public static func parse(_ text: String, name: String = "rules.cf", limits: PCRERegex.Limits = PCRERegex.Limits()) -> RuleSet {
        var reader = RuleFileReader()
        reader.read(text: Array(text.utf8), file: name)
        return RuleSet(reader.config, limits: limits)
    }

    init(_ c: RuleConfiguration, limits: PCRERegex.Limits, scoreSet: Int = 0) {
        self.limits = limits
        var d = Diagnostics()
        d.errors = c.errors
        d.files = c.files
        d.unknownDirectives = c.unknownDirectives.map { ($0.key, $0.value.count, $0.value.first) }.sorted { $0.name < $1.name }
        var literalLists: [RuleType: [[UInt8]]] = [:]
        var literalIDs: [RuleType: [[UInt8]: Int]] = [:]
        var missingEvals: [String: [String]] = [:]
        var rules: [Rule] = []
        var querySlots: [HeaderQuery: Int] = [:]
        var queries: [HeaderQuery] = []
        for name in c.order {
            let def = c.rules[name]!
            let flags = c.tflags[name] ?? []
            var score: Double
            if let s = c.scores[name] { score = s[min(scoreSet, s.count - 1)] } else {
                score = name.hasPrefix("T_") ? 0.01 : 1.0
                if flags.contains("nice") { score = -score }
            }
            // A rule scored only in the Bayes score sets (2, 3) still runs: BAYES_xx.
            let bayesScored = (c.scores[name]?.dropFirst(2).contains { $0 != 0 }) ?? false
            var enabled = (score != 0 || bayesScored) && !flags.contains("net")
            var regexes: [PCRERegex] = []
            var literals: [Int]?
            var perl: PerlRegex? = def.regex
            if case .matches(let r)? = def.header?.test { perl = r }
            if case .doesNotMatch(let r)? = def.header?.test { perl = r }
            if var p = perl {
                if c.replaceRules.contains(name) { p = PerlRegex(pattern: ReplaceTags.apply(p.pattern, c), flags: p.flags) }
                if p.pattern.contains("%{") {
                    d.unsupportedRegexes.append((name, def.origin, "uses a captured tag %{…} (capture rules are not supported)"))
                    enabled = false
                } else {
                    switch p.compileAll(limits: limits) {
                    case .success(let r): regexes = r
                    case .failure(let e):
                        d.unsupportedRegexes.append((name, def.origin, e.reason))
                        enabled = false
                    }
                }
                if !regexes.isEmpty, let lits = RequiredLiterals.of(p.pattern, extended: p.flags.contains("x")) {
                    var ids: [Int] = []
                    for l in lits {
                        if let id = literalIDs[def.type]?[l] { ids.append(id); continue }
                        let id = literalLists[def.type, default: []].count
                        literalLists[def.type, default: []].append(l)
                        literalIDs[def.type, default: [:]][l] = id
                        ids.append(id)
                    }
                    literals = ids
                }
            }
            if let e = def.eval, EvalFunctions.table[e.function] == nil {
                missingEvals[e.function, default: []].append(name)
                enabled = false
            }
            var meta: Expression?
            if let m = def.meta {
                do {
                    meta = try Expression.parse(m)
                } catch {
                    d.errors.append("\(def.origin): meta \(name): \(error)")
                    enabled = false
                }
            }
            var maxHits = flags.contains("multiple") ? 1_000 : 1
            for f in flags where f.hasPrefix("maxhits=") { maxHits = min(Int(f.dropFirst(8)) ?? maxHits, 1_000) }
            var header: (HeaderQuery, HeaderTest, [UInt8]?)?
            var slot = -1
            if let h = def.header {
                header = (h.query, h.test, h.ifUnset.map { Array($0.utf8) })
                if let s = querySlots[h.query] { slot = s } else {
                    slot = queries.count
                    querySlots[h.query] = slot
                    queries.append(h.query)
                }
            }
            rules.append(Rule(name: name, type: def.type, origin: def.origin, regexes: regexes, header: header, querySlot: slot,
                              eval: def.eval, meta: meta, score: score, describe: c.describe[name] ?? "",
                              multiple: flags.contains("multiple"), maxHits: maxHits, literals: literals, enabled: enabled))
        }
        d.unsupportedEvals = missingEvals.map { ($0.key, $0.value) }.sorted { $0.rules.count > $1.rules.count || ($0.rules.count == $1.rules.count && $0.function < $1.function) }
        var index: [String: Int] = [:]
        for (i, r) in rules.enumerated() { index[r.name] = i }
        for r in rules {
            for n in r.dependencies where index[n] == nil && Double(n) == nil {
                d.undefinedDependencies.append((r.name, n))
            }
        }
        self.rules = rules.map { $0.resolving(index) }
        self.index = index
        self.headerQueries = queries
        var byType: [RuleType: [Int]] = [:]
        for (i, r) in rules.enumerated() where r.enabled { byType[r.type, default: []].append(i) }
        self.byType = byType
        self.scanners = literalLists.mapValues { LiteralScanner($0) }
        self.metaOrder = Self.order(metas: byType[.meta] ?? [], rules: rules, index: index, diagnostics: &d)
        self.requiredScore = c.requiredScore
        var headerConfig = c
        if !c.headersConfigured {
            for h in RuleConfiguration.defaultHeaders { headerConfig.addHeader(h.which, h.name, h.template) }
        }
        self.spamHeaders = headerConfig.spamHeaders
        self.hamHeaders = headerConfig.hamHeaders
        self.rewriteHeaders = c.rewriteHeaders
        self.registry = c.registry
        self.hostFinder = queries.contains { $0.host } ? c.registry.compileHostFinder(limits: limits) : nil
        self.reportTemplate = c.reportTemplate
        self.welcomelist = c.welcomelistFrom
        self.blocklist = c.blocklistFrom
        self.diagnostics = d
        self.scoreSets = c.scores
        self.tflags = c.tflags
        self.bayesSettings = c.bayesSettings
    }

    /// Depth-first order of the meta rules; a meta in a cycle is reported and left out.
    static func order(metas: [Int], rules: [Rule], index: [String: Int], diagnostics: inout Diagnostics) -> [Int] {
        var state = [UInt8](repeating: 0, count: rules.count) // 0 new, 1 in progress, 2 done
        var out: [Int] = []
        func visit(_ i: Int, depth: Int) {
            guard state[i] == 0 else {
                if state[i] == 1 { diagnostics.errors.append("\(rules[i].origin): meta \(rules[i].name): depends on itself") }
                return
            }
            guard depth < 100 else { diagnostics.errors.append("\(rules[i].origin): meta \(rules[i].name): nested more than 100 deep"); return }
            state[i] = 1
            for n in rules[i].dependencies {
                if let j = index[n], rules[j].type == .meta, rules[j].enabled { visit(j, depth: depth + 1) }
            }
            state[i] = 2
            out.append(i)
        }
        for m in metas { visit(m, depth: 0) }
        return out
    }
}

/// SpamAssassin's ReplaceTags plugin: `<A>`, `<inter W1>`, `<post P2>` in the rules that
/// `replace_rules` names are replaced by the `replace_tag`/`replace_inter`/`replace_post`
/// regexes before compilation.
enum ReplaceTags {
    static func apply(_ pattern: String, _ c: RuleConfiguration) -> String {
        var re = pattern
        var passes = 0
        var again = true
        while again, passes <= 5 {
            again = false
            let pre = take("pre", &re)
            let post = take("post", &re)
            let inter = take("inter", &re)
            // split(/(<[^<>]+>)/): text and tags alternate; empty strings between tags.
            var pieces: [String] = []
            var current = ""
            var i = re.startIndex
            while i < re.endIndex {
                if re[i] == "<", let close = re[re.index(after: i)...].firstIndex(where: { $0 == ">" || $0 == "<" }), re[close] == ">", close > re.index(after: i) {
                    pieces.append(current)
                    pieces.append(String(re[i...close]))
                    current = ""
                    i = re.index(after: close)
                    continue
                }
                current.append(re[i])
                i = re.index(after: i)
            }
            pieces.append(current)
            while let last = pieces.last, last.isEmpty { pieces.removeLast() }
            for k in pieces.indices {
                let p = pieces[k]
                if p.isEmpty, let inter, let v = c.replaceInter[inter] { pieces[k] = v; continue }
                guard p.hasPrefix("<"), p.hasSuffix(">") else { continue }
                let tag = String(p.dropFirst().dropLast())
                guard let v = c.replaceTags[tag] else { continue }
                var r = v
                if let pre, let pv = c.replacePre[pre] { r = pv + r }
                if let post, let pv = c.replacePost[post] { r += pv }
                pieces[k] = r
                if v.contains("<"), v.contains(">") { again = true }
            }
            re = pieces.joined()
            passes += 1
        }
        return re
    }

    /// Removes the first `<kind NAME>` from `re` and returns NAME.
    static func take(_ kind: String, _ re: inout String) -> String? {
        guard let r = re.firstRange(of: "<\(kind) "), let close = re[r.upperBound...].firstIndex(of: ">") else { return nil }
        let name = String(re[r.upperBound..<close])
        re.removeSubrange(r.lowerBound...close)
        return name
    }
}

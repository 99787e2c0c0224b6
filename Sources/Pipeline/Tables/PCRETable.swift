/// `pcre:/path`: a table of Perl-compatible regular expressions, read as Postfix 3.7 reads a
/// pcre_table(5) file, so an existing Postfix table gives the same answers here.
///
/// The format, briefly:
/// - `/pattern/flags result`: when the pattern matches the key, the answer is `result`, with
///   `$1`…`$n`, `${n}` and `$(n)` replaced by the captured text and `$$` by a dollar sign.
///   The delimiter may be any character that does not start a word (`|a/b|`); a backslash
///   escapes it inside the pattern (and stays in the pattern).
/// - `!/pattern/flags result`: the answer when the pattern does *not* match (no `$n` allowed).
/// - `if /pattern/flags` … `endif` (or `if !/pattern/`): the lines in between are tried only
///   when the condition holds; blocks nest. Keywords are case-insensitive.
/// - Flags toggle PCRE options: `i` (case-insensitive, *on* by default), `m`, `s` (dot matches
///   newline, *on* by default), `x`, `A` (anchored), `E` (dollar at the end only), `U`
///   (ungreedy); `X` is accepted with a warning, as Postfix built with PCRE2 does.
/// - Blank lines and lines whose first non-blank character is `#` are ignored; a line that
///   starts with whitespace continues the line above (joined as written, without the newline).
/// - The first rule that answers wins; keys are matched as given (no case folding).
///
/// A line Postfix would reject is skipped with the warning Postfix logs, with file and line
/// (``warnings``, ``postfixWarnings``); the table still opens, as in Postfix. Every pattern is
/// compiled once, when the table is opened.
///
/// Keys are matched byte by byte, without PCRE2's UTF mode, because that is what `postmap -q`
/// does: `é` and `É` are different bytes and do not fold, and `.` matches one byte. Invalid
/// UTF-8 in a key is therefore never an error.
///
/// A match that hits a PCRE2 limit throws ``TableError`` (delivery defers) rather than
/// counting as "no match", so a runaway pattern cannot silently reroute mail.
public struct PCRETable: LookupTable {
    public let name: String
    /// The file the rules came from (for an inline table, its `{ … }` text), as Postfix
    /// names the table in messages.
    public let path: String
    let rules: [Rule]
    /// What Postfix would warn about while reading the file, with file and line.
    public let warnings: [ConfigError]
    /// The same warnings worded exactly as Postfix logs them (the text after `warning: `), so
    /// they can be compared with Postfix's own.
    public let postfixWarnings: [String]

    /// One parsed line of the table.
    struct Rule: Sendable {
        enum Kind: Sendable {
            /// A result rule; `replacement` is the result, with capture references.
            case match(replacement: [Piece])
            /// `if`: when the condition fails, continue at rule index `skipTo` (after its endif).
            case ifBlock(skipTo: Int)
            case endif
        }
        var kind: Kind
        /// Nil for `endif`.
        let regex: PCRERegex?
        /// True for `!/pattern/`: the rule applies when the pattern does not match.
        let negated: Bool
        /// The first line of the logical line, for messages.
        let line: Int
    }

    /// A part of a result: literal bytes, or the text of a capture group.
    enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case group(Int)
    }

    /// Opens and compiles the table at `path`, or, when `path` starts with `{`, the rules
    /// written in the name itself (Postfix 3.7's `pcre:{ {rule}, {rule} }`).
    public init(path: String, name: String, limits: PCRERegex.Limits = PCRERegex.Limits()) throws(ConfigError) {
        if path.first == "{" {
            let text = try Self.inlineText(path)
            self.init(bytes: Array(text.utf8), path: path, name: name, limits: limits)
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path, limit: 64 << 20)
        } catch {
            throw ConfigError(file: path, "\(name): cannot open table: \(error)")
        }
        self.init(bytes: bytes, path: path, name: name, limits: limits)
    }

    /// A table from text, for tests and for tables written in the configuration itself;
    /// `path` is the name messages give as the file.
    public init(text: String, path: String = "(text)", name: String = "pcre:(text)",
                limits: PCRERegex.Limits = PCRERegex.Limits()) {
        self.init(bytes: Array(text.utf8), path: path, name: name, limits: limits)
    }

    init(bytes: [UInt8], path: String, name: String, limits: PCRERegex.Limits) {
        self.name = name
        self.path = path
        var parser = Parser(path: path, limits: limits)
        parser.parse(bytes)
        self.rules = parser.rules
        self.warnings = parser.warnings
        self.postfixWarnings = parser.postfixWarnings
    }

    /// The rules of an inline table, one per line: `{ {rule-1}, {rule-2} }` becomes
    /// "rule-1\nrule-2". Items are separated by commas or blanks; braces inside an item nest;
    /// blanks just inside an item's braces are dropped. Messages name the table by its text,
    /// as Postfix does.
    static func inlineText(_ argument: String) throws(ConfigError) -> String {
        let a = Array(argument.utf8)
        func closing(_ open: Int) -> Int? {
            var depth = 0
            for i in open..<a.count {
                if a[i] == UInt8(ascii: "{") { depth += 1 }
                if a[i] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { return i } }
            }
            return nil
        }
        func trimmed(_ s: ArraySlice<UInt8>) -> String {
            var s = s
            while let f = s.first, Parser.isSpace(f) { s.removeFirst() }
            while let l = s.last, Parser.isSpace(l) { s.removeLast() }
            return String(decoding: s, as: UTF8.self)
        }
        guard let end = closing(0) else { throw ConfigError("pcre map: missing '}' in \"\(argument)\"") }
        guard trimmed(a[(end + 1)...]).isEmpty else {
            throw ConfigError("pcre map: syntax error after '}' in \"\(argument)\"")
        }
        var lines: [String] = []
        var i = 1
        while i < end {
            if Parser.isSpace(a[i]) || a[i] == UInt8(ascii: ",") { i += 1; continue }
            guard a[i] == UInt8(ascii: "{") else {
                var j = i
                while j < end && !Parser.isSpace(a[j]) && a[j] != UInt8(ascii: ",") { j += 1 }
                throw ConfigError("pcre map: no '{' at start of text in \"\(String(decoding: a[i..<j], as: UTF8.self))\"")
            }
            guard let close = closing(i), close < end else {
                throw ConfigError("pcre map: missing '}' in \"\(argument)\"")
            }
            lines.append(trimmed(a[(i + 1)..<close]))
            i = close + 1
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// The number of rules (results, ifs and endifs) that were accepted.
    public var count: Int { rules.count }

    public func lookup(_ key: String) throws(TableError) -> String? {
        let subject = Array(key.utf8)
        var i = 0
        while i < rules.count {
            let rule = rules[i]
            switch rule.kind {
            case .endif:
                break
            case .ifBlock(let skipTo):
                if try matches(rule, subject) == nil { i = skipTo; continue }
            case .match(let replacement):
                if let match = try matches(rule, subject) {
                    return Self.expand(replacement, match, subject)
                }
            }
            i += 1
        }
        return nil
    }

    /// What Postfix's table layer warns about one lookup: an empty answer (a rule with no
    /// result text) is returned, as Postfix returns it, but with these two warnings.
    public func postfixLookupWarnings(key: String, value: String?) -> [String] {
        guard value == "" else { return [] }
        return [Self.printable("table \(name): key \(key): empty string result is not allowed"),
                Self.printable("table \(name) should return NO RESULT in case of NOT FOUND")]
    }

    /// Postfix's logger writes every byte outside printable ASCII (tabs and UTF-8 included) as `?`.
    static func printable(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 0x20 && $0 <= 0x7E ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    /// The match when the rule's condition holds: the match itself for a plain pattern, an
    /// empty match for a negated pattern that did not match; nil when the condition fails.
    private func matches(_ rule: Rule, _ subject: [UInt8]) throws(TableError) -> PCRERegex.Match? {
        guard let regex = rule.regex else { return nil }
        let match: PCRERegex.Match?
        do {
            match = try regex.firstMatch(in: subject)
        } catch {
            // A limit was hit: Postfix would only log it and move on, but an unanswered lookup
            // must not silently become "not found" for mail routing; delivery defers instead.
            throw TableError(table: name, "pcre map \(path), line \(rule.line): matching error: \(error.message)")
        }
        if rule.negated { return match == nil ? PCRERegex.Match(groups: [0..<0]) : nil }
        return match
    }

    static func expand(_ pieces: [Piece], _ match: PCRERegex.Match, _ subject: [UInt8]) -> String {
        var out: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .literal(let bytes):
                out += bytes
            case .group(let n):
                // A group that took no part in the match (`(x)?`) expands to nothing, as in Postfix.
                if n < match.groups.count, let r = match.groups[n] { out += subject[r] }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension PCRETable {
    /// Reads the file into rules, collecting Postfix's warnings.
    struct Parser {
        let path: String
        let limits: PCRERegex.Limits
        var rules: [Rule] = []
        var warnings: [ConfigError] = []
        var postfixWarnings: [String] = []
        /// Rule indexes of the `if`s still open, innermost last.
        var open: [Int] = []

        init(path: String, limits: PCRERegex.Limits) {
            self.path = path
            self.limits = limits
        }

        static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        static func isAlnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }
        static func text(_ bytes: some Sequence<UInt8>) -> String { String(decoding: Array(bytes), as: UTF8.self) }

        /// A warning Postfix prefixes with the map and line.
        mutating func warn(_ line: Int, _ message: String) {
            warnings.append(ConfigError(file: path, line: line, message))
            postfixWarnings.append(PCRETable.printable("pcre map \(path), line \(line): \(message)"))
        }

        /// A warning Postfix logs without map or line (from its generic line and macro readers);
        /// ours still carries them.
        mutating func warnBare(_ line: Int?, _ message: String, postfix: String? = nil) {
            warnings.append(ConfigError(file: path, line: line, message))
            postfixWarnings.append(PCRETable.printable(postfix ?? message))
        }

        mutating func parse(_ bytes: [UInt8]) {
            for (text, line) in logicalLines(bytes) { parseRule(text, line) }
            // Postfix reports the unclosed ifs innermost first; their blocks run to the end.
            for index in open.reversed() {
                warn(rules[index].line, "IF has no matching ENDIF")
                rules[index].kind = .ifBlock(skipTo: rules.count)
            }
            open = []
        }

        /// Joins continuation lines; drops blank and comment lines and trailing whitespace.
        /// Each logical line carries the number of its first physical line.
        mutating func logicalLines(_ bytes: [UInt8]) -> [(text: [UInt8], line: Int)] {
            var logical: [(text: [UInt8], line: Int)] = []
            // Indented lines at the very start: Postfix warns once and drops them as one
            // logical line, so they do not become rules.
            var leading = false
            var number = 0
            for raw in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                number += 1
                var end = raw.endIndex
                while end > raw.startIndex && Self.isSpace(raw[end - 1]) { end -= 1 }
                let line = raw[raw.startIndex..<end]
                guard let first = line.firstIndex(where: { !Self.isSpace($0) }) else { continue }
                if line[first] == UInt8(ascii: "#") { continue }
                if first == line.startIndex {
                    logical.append((Array(line), number))
                    leading = false
                } else if leading {
                    continue
                } else if logical.isEmpty {
                    leading = true
                    let shown = line.count > 30 ? Self.text(line.prefix(30)) + "..." : Self.text(line)
                    let message = "logical line must not start with whitespace: \"\(shown)\""
                    warnBare(number, message, postfix: "\(path): \(message)")
                } else {
                    // The continuation keeps its leading whitespace; only the newline goes.
                    logical[logical.count - 1].text += line
                }
            }
            return logical
        }

        /// Whether `line` starts with the keyword `word` (any case) as a whole word.
        static func startsWithKeyword(_ line: [UInt8], _ word: String) -> Bool {
            let w = Array(word.utf8)
            guard line.count >= w.count else { return false }
            for (a, b) in zip(line, w) where a | 0x20 != b { return false }
            return line.count == w.count || !isAlnum(line[w.count])
        }

        mutating func parseRule(_ text: [UInt8], _ line: Int) {
            var p = 0
            if !Self.isAlnum(text[0]) {
                guard let pattern = parsePattern(text, &p, line) else { return }
                while p < text.count && Self.isSpace(text[p]) { p += 1 }
                let result = Array(text[p...])
                if result.isEmpty { warn(line, "no replacement text: using empty string") }
                guard let (pieces, highest) = parseReplacement(result, line) else {
                    warn(line, "bad replacement syntax: skipping this rule")
                    return
                }
                if pattern.negated && highest > 0 {
                    warn(line, "$number found in negative match replacement text: skipping this rule")
                    return
                }
                guard let regex = compile(pattern, line) else { return }
                if highest > regex.captureCount {
                    warn(line, "out of range replacement index \"\(highest)\": skipping this rule")
                    return
                }
                rules.append(Rule(kind: .match(replacement: pieces), regex: regex, negated: pattern.negated, line: line))
            } else if Self.startsWithKeyword(text, "if") {
                p = 2
                guard let pattern = parsePattern(text, &p, line) else { return }
                while p < text.count && Self.isSpace(text[p]) { p += 1 }
                if p < text.count {
                    warn(line, "ignoring extra text after IF statement: \"\(Self.text(text[p...]))\"")
                    // Usually an indented rule that became part of the if line.
                    warn(line, "do not prepend whitespace to statements between IF and ENDIF")
                }
                guard let regex = compile(pattern, line) else { return }
                open.append(rules.count)
                rules.append(Rule(kind: .ifBlock(skipTo: 0), regex: regex, negated: pattern.negated, line: line))
            } else if Self.startsWithKeyword(text, "endif") {
                guard let index = open.popLast() else {
                    warn(line, "ignoring ENDIF without matching IF")
                    return
                }
                p = 5
                while p < text.count && Self.isSpace(text[p]) { p += 1 }
                if p < text.count { warn(line, "ignoring extra text after ENDIF") }
                rules.append(Rule(kind: .endif, regex: nil, negated: false, line: line))
                rules[index].kind = .ifBlock(skipTo: rules.count)
            } else {
                warn(line, "ignoring unrecognized request")
            }
        }

        struct Pattern {
            let source: [UInt8]
            let options: PCRERegex.Options
            let negated: Bool
        }

        /// `[!…]<delim>pattern<delim>flags` from `p`; nil (with Postfix's warning) when the
        /// rule must be skipped.
        mutating func parsePattern(_ text: [UInt8], _ p: inout Int, _ line: Int) -> Pattern? {
            while p < text.count && Self.isSpace(text[p]) { p += 1 }
            var negated = false
            while p < text.count && text[p] == UInt8(ascii: "!") {
                negated.toggle()
                p += 1
                while p < text.count && Self.isSpace(text[p]) { p += 1 }
            }
            guard p < text.count else {
                warn(line, "no regexp: skipping this rule")
                return nil
            }
            let delimiter = text[p]
            p += 1
            let start = p
            while p < text.count && text[p] != delimiter {
                // A backslash protects the next character (the delimiter included) and stays.
                if text[p] == UInt8(ascii: "\\") && p + 1 < text.count { p += 1 }
                p += 1
            }
            guard p < text.count else {
                warn(line, "no closing regexp delimiter \"\(Self.text([delimiter]))\": ignoring this rule")
                return nil
            }
            let source = Array(text[start..<p])
            p += 1
            // Postfix's defaults: case-insensitive, and `.` matches a newline (multi-line headers).
            var options: PCRERegex.Options = [.caseless, .dotAll]
            while p < text.count && !Self.isSpace(text[p]) {
                switch text[p] {
                case UInt8(ascii: "i"): options.formSymmetricDifference(.caseless)
                case UInt8(ascii: "m"): options.formSymmetricDifference(.multiline)
                case UInt8(ascii: "s"): options.formSymmetricDifference(.dotAll)
                case UInt8(ascii: "x"): options.formSymmetricDifference(.extended)
                case UInt8(ascii: "A"): options.formSymmetricDifference(.anchored)
                case UInt8(ascii: "E"): options.formSymmetricDifference(.dollarEndOnly)
                case UInt8(ascii: "U"): options.formSymmetricDifference(.ungreedy)
                case UInt8(ascii: "X"):
                    // PCRE_EXTRA has no PCRE2 equivalent; Postfix with PCRE2 keeps the rule.
                    warn(line, "ignoring obsolete regexp option \"X\"")
                default:
                    warn(line, "unknown regexp option \"\(Self.text([text[p]]))\": skipping this rule")
                    return nil
                }
                p += 1
            }
            return Pattern(source: source, options: options, negated: negated)
        }

        mutating func compile(_ pattern: Pattern, _ line: Int) -> PCRERegex? {
            do {
                return try PCRERegex(Self.text(pattern.source), options: pattern.options, limits: limits)
            } catch {
                warn(line, "error in regex at offset \(error.offset ?? 0): \(error.message)")
                return nil
            }
        }

        /// The result text as pieces, and the highest group it refers to; nil when Postfix
        /// would reject it. Macro syntax as Postfix's: `$$`, `$name`, `${name}`, `$(name)`
        /// (brackets nest), where a name must be a group number of 1 or more.
        mutating func parseReplacement(_ r: [UInt8], _ line: Int) -> (pieces: [Piece], highest: Int)? {
            var pieces: [Piece] = []
            var literal: [UInt8] = []
            var highest = 0
            var ok = true
            var i = 0
            while i < r.count {
                guard r[i] == UInt8(ascii: "$") else {
                    literal.append(r[i])
                    i += 1
                    continue
                }
                i += 1
                if i < r.count && r[i] == UInt8(ascii: "$") {
                    literal.append(r[i])
                    i += 1
                    continue
                }
                let name: ArraySlice<UInt8>
                if i < r.count && (r[i] == UInt8(ascii: "{") || r[i] == UInt8(ascii: "(")) {
                    let opening = r[i]
                    let closing = opening == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: ")")
                    var depth = 1
                    var j = i + 1
                    while j < r.count {
                        if r[j] == opening { depth += 1 }
                        if r[j] == closing { depth -= 1; if depth == 0 { break } }
                        j += 1
                    }
                    guard j < r.count else {
                        warnBare(line, "truncated macro reference: \"\(Self.text(r))\"")
                        return nil
                    }
                    name = r[(i + 1)..<j]
                    i = j + 1
                } else {
                    var j = i
                    while j < r.count && (Self.isAlnum(r[j]) || r[j] == UInt8(ascii: "_")) { j += 1 }
                    name = r[i..<j]
                    i = j
                }
                guard !name.isEmpty else {
                    warnBare(line, "empty macro name: \"\(Self.text(r))\"")
                    return nil
                }
                // Postfix checks every reference before giving up, so each bad one is reported.
                guard name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    warn(line, "non-numeric replacement index \"\(Self.text(name))\"")
                    ok = false
                    continue
                }
                let n = Int(Self.text(name)) ?? Int(Int32.max)
                guard n >= 1 else {
                    warn(line, "out of range replacement index \"\(Self.text(name))\"")
                    ok = false
                    continue
                }
                highest = max(highest, n)
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
                pieces.append(.group(n))
            }
            guard ok else { return nil }
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            return (pieces, highest)
        }
    }
}

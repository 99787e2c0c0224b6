#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Reads SpamAssassin configuration files (`*.pre`, `*.cf`, `local.cf`) as SpamAssassin does:
/// comments, `include`, `if`/`ifplugin`/`else`/`endif`, and every directive a rule set uses.
///
/// Nothing in a rule file is fatal: a line that cannot be read is recorded as
/// `file:line: what was expected` and the rest of the file still loads; a directive mdad does
/// not act on is counted and listed (`mdad spam lint`).
struct RuleFileReader {
    var config = RuleConfiguration()
    /// The SpamAssassin version rule files see in `if (version >= …)`: the rule set mdad is
    /// tested against (Debian's 4.0.1).
    static let version = 4.000001
    static let includeDepthLimit = 20
    static let lineLengthLimit = 1 << 16

    /// `can(Mail::SpamAssassin::Conf::feature_…)`: the features SpamAssassin 4.0.1 declares.
    static let features: Set<String> = [
        "feature_originating_ip_headers", "feature_dns_local_ports_permit_avoid", "feature_bayes_auto_learn_on_error",
        "feature_uri_host_listed", "feature_yesno_takes_args", "feature_bug6558_free", "feature_edns",
        "feature_dns_query_restriction", "feature_registryboundaries", "feature_geodb", "feature_dns_block_rule",
        "feature_compile_regexp", "feature_meta_rules_matching", "feature_subjprefix", "feature_bayes_stopwords",
        "feature_get_host", "feature_blocklist_welcomelist", "feature_welcomelist_blocklist",
        "feature_header_address_parser", "feature_local_tests_only", "feature_header_first_last",
        "feature_header_match_many", "feature_capture_rules", "perl_min_version_5010000",
    ]

    /// Reads the rule paths in SpamAssassin's order: the `*.pre` files of every directory
    /// first (they load plugins), then each path's `*.cf` files (sorted) or the file itself.
    /// Paths that do not exist are skipped.
    mutating func read(paths: [String]) {
        var cf: [String] = []
        var pre: [String] = []
        for path in paths {
            if let entries = Posix.directoryEntries(path)?.sorted() {
                pre += entries.filter { $0.hasSuffix(".pre") }.map { path + "/" + $0 }
                cf += entries.filter { $0.hasSuffix(".cf") }.map { path + "/" + $0 }
            } else if Posix.exists(path) {
                if path.hasSuffix(".pre") { pre.append(path) } else { cf.append(path) }
            }
        }
        for f in pre + cf { read(file: f, depth: 0) }
    }

    mutating func read(file: String, depth: Int) {
        guard depth < Self.includeDepthLimit else {
            config.errors.append("\(file): include nested more than \(Self.includeDepthLimit) deep; not read")
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(file)
        } catch {
            config.errors.append("\(file): cannot read: \(error)")
            return
        }
        config.files.append(file)
        read(text: bytes, file: file, depth: depth)
    }

    /// Reads one file's text; `file` names it in messages.
    mutating func read(text bytes: [UInt8], file: String, depth: Int = 0) {
        // Each `if`/`ifplugin` pushes whether its block is read; `else` flips the top.
        var stack: [(active: Bool, line: Int)] = []
        var active: Bool { stack.allSatisfy(\.active) }
        var lineNumber = 0
        for rawLine in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            lineNumber += 1
            let place = "\(file):\(lineNumber)"
            guard rawLine.count <= Self.lineLengthLimit else {
                config.errors.append("\(place): line longer than \(Self.lineLengthLimit) bytes; ignored")
                continue
            }
            let line = Self.stripComment(Self.text(rawLine))
            if line.isEmpty { continue }
            let (key, value) = Self.split(line)
            switch key {
            case "if":
                let cond = active ? evaluateCondition(value, at: place) : false
                stack.append((cond, lineNumber))
                continue
            case "ifplugin":
                stack.append((active && config.loadedPlugins.contains(value), lineNumber))
                continue
            case "else":
                guard !stack.isEmpty else { config.errors.append("\(place): else without if"); continue }
                stack[stack.count - 1].active.toggle()
                continue
            case "endif":
                guard !stack.isEmpty else { config.errors.append("\(place): endif without if"); continue }
                stack.removeLast()
                continue
            default:
                break
            }
            guard active else { continue }
            if key == "include" {
                let target = value.hasPrefix("/") ? value : Self.directory(of: file) + "/" + value
                read(file: target, depth: depth + 1)
                continue
            }
            directive(key, value, at: place)
        }
        for open in stack {
            config.errors.append("\(file):\(open.line): if/ifplugin without endif")
        }
    }

    /// Rule files are bytes. Valid UTF-8 is kept as it is (PCRE2 byte mode sees the same
    /// bytes Perl does); other bytes ≥ 0x80 become `\xNN`, which byte mode reads as that byte.
    static func text(_ bytes: ArraySlice<UInt8>) -> String {
        var b = bytes
        if b.last == 13 { b = b.dropLast() }
        if let s = String(validating: b, as: UTF8.self) { return s }
        var out = ""
        for c in b {
            if c < 0x80 { out.unicodeScalars.append(UnicodeScalar(c)) } else {
                out += "\\x" + String(c, radix: 16)
            }
        }
        return out
    }

    /// SpamAssassin's comment rule: `#` not preceded by a backslash starts a comment; `\#`
    /// is a literal `#`.
    static func stripComment(_ line: String) -> String {
        var out = ""
        var previous: Character = " "
        for c in line {
            if c == "#" {
                if previous == "\\" { out.removeLast(); out.append("#"); previous = "#"; continue }
                break
            }
            out.append(c)
            previous = c
        }
        return out.trimmingWhitespace()
    }

    static func split(_ line: String) -> (String, String) {
        guard let sp = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (line.lowercased(), "") }
        return (line[..<sp].lowercased(), String(line[sp...]).trimmingWhitespace())
    }

    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return String(file[..<slash])
    }

    /// `if` conditions: `version`, `perl_version`, `local_tests_only`, `plugin(…)`, `can(…)`,
    /// `has(…)` and Perl's operators.
    mutating func evaluateCondition(_ text: String, at place: String) -> Bool {
        var t = text
        for fn in ["plugin", "can", "has"] {
            while let r = t.firstRange(of: fn + "(") {
                guard let close = t[r.upperBound...].firstIndex(of: ")") else { break }
                let arg = String(t[r.upperBound..<close]).trimmingWhitespace()
                let truth: Bool
                switch fn {
                case "plugin": truth = config.loadedPlugins.contains(arg)
                default:
                    let leaf = String(arg.split(separator: ":").last ?? "")
                    // can(Plugin::has_…): the plugin's feature flags, there when it is loaded.
                    let owner = arg.split(separator: ":", omittingEmptySubsequences: true).dropLast().joined(separator: "::")
                    truth = Self.features.contains(leaf) || (leaf.hasPrefix("compat_") && config.compat.contains(String(leaf.dropFirst(7))))
                        || (leaf.hasPrefix("has_") && config.loadedPlugins.contains(owner))
                }
                t.replaceSubrange(r.lowerBound...close, with: truth ? " 1 " : " 0 ")
            }
        }
        do {
            let e = try Expression.parse(t)
            return e.evaluate { name in
                switch name {
                case "version": return Self.version
                case "perl_version": return 5.036
                case "local_tests_only": return 1
                default: return 0
                }
            } != 0
        } catch {
            config.errors.append("\(place): if \(text): \(error); block skipped")
            return false
        }
    }
}

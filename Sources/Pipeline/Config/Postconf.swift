#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `mdad postconf`: Postfix's postconf(1) for mdad's main.cf.
///
/// Output is `name = value`, sorted by name, values as written (unexpanded) unless `-x`.
/// `-n` shows what main.cf sets, `-d` the defaults, names select parameters. `-e` edits and
/// `-X` removes, rewriting main.cf atomically and keeping its comments and layout.
public enum Postconf {
    public enum Mode: Sendable { case current, nonDefault, defaults }

    public struct Output: Sendable, Equatable {
        public var lines: [String]
        /// Warnings in Postfix's words, for standard error.
        public var warnings: [String]
    }

    /// What `postconf [-n|-d] [-x] [name …]` prints.
    public static func show(_ config: Configuration, mode: Mode, expand: Bool, names: [String]) throws(ConfigError) -> Output {
        var warnings = unusedWarnings(config)
        var selected: [String]
        let unused = Set(config.unusedEntries.map(\.name))
        if names.isEmpty {
            switch mode {
            case .nonDefault: selected = config.entries.keys.filter { !unused.contains($0) }
            case .current, .defaults: selected = config.table.order
            }
        } else {
            selected = []
            for n in names {
                if config.table[n] != nil || (mode != .defaults && config.entries[n] != nil) {
                    selected.append(n)
                } else {
                    warnings.append("postconf: warning: \(n): unknown parameter")
                }
            }
        }
        if names.isEmpty { selected.sort() }
        var lines: [String] = []
        for name in selected {
            let raw: String?
            switch mode {
            case .defaults: raw = config.table[name]?.defaultValue.value(config.system)
            case .nonDefault: raw = config.entries[name]?.value
            case .current: raw = config.rawValue(name)
            }
            guard let value = raw else { continue }
            let shown = expand ? try config.expand(value, parameter: name) : value
            lines.append(shown.isEmpty ? "\(name) =" : "\(name) = \(shown)")
        }
        return Output(lines: lines, warnings: warnings)
    }

    /// Postfix's "unused parameter" warning, with file and line: a name main.cf sets that no
    /// parameter declares and no other value refers to as `$name`.
    public static func unusedWarnings(_ config: Configuration) -> [String] {
        config.unusedEntries.map {
            "postconf: warning: \($0.file), line \($0.line): unused parameter: \($0.name)=\($0.value)"
        }
    }

    /// The names a value refers to: `$name`, `${name…}`, `$(name…)`.
    public static func references(in value: String) -> [String] {
        var names: [String] = []
        var chars = Array(value)[...]
        while let dollar = chars.firstIndex(of: "$") {
            chars = chars[(dollar + 1)...]
            if chars.first == "{" || chars.first == "(" { chars = chars.dropFirst() }
            var name = ""
            while let c = chars.first, c.isASCII, c.isLetter || c.isNumber || c == "_" {
                name.append(c)
                chars = chars.dropFirst()
            }
            if !name.isEmpty { names.append(name) }
        }
        return names
    }

    // MARK: editing

    /// main.cf with `settings` applied (`-e`) and `removals` taken out (`-X`), as Postfix's
    /// postconf edits: every line that sets the parameter is replaced where it stands (its
    /// continuation lines with it); a parameter not yet set is appended at the end. Every
    /// other line, comments included, is kept byte for byte.
    public static func edit(_ text: String, settings: [(name: String, value: String)], removals: [String]) -> String {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        if lines.last == "" { lines.removeLast() }
        // Group physical lines into logical ones: (name?, range).
        var groups: [(name: String?, lines: [String])] = []
        for line in lines {
            let isContinuation = (line.first == " " || line.first == "\t") && !line.trimmingWhitespace().hasPrefix("#")
                && !line.trimmingWhitespace().isEmpty
            if isContinuation, let last = groups.indices.last, groups[last].name != nil {
                groups[last].lines.append(line)
                continue
            }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || line.first == " " || line.first == "\t" {
                groups.append((nil, [line]))
            } else {
                let name = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingWhitespace() }
                groups.append((name, [line]))
            }
        }
        let newValues = Dictionary(settings.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        var done = Set<String>()
        var out: [String] = []
        for g in groups {
            guard let name = g.name else { out.append(contentsOf: g.lines); continue }
            if removals.contains(name) { continue }
            if let v = newValues[name] {
                out.append(v.isEmpty ? "\(name) =" : "\(name) = \(v)")
                done.insert(name)
                continue
            }
            out.append(contentsOf: g.lines)
        }
        for (name, _) in settings where !done.contains(name) && !removals.contains(name) {
            let v = newValues[name] ?? ""
            out.append(v.isEmpty ? "\(name) =" : "\(name) = \(v)")
            done.insert(name)
        }
        return out.map { $0 + "\n" }.joined()
    }

    /// Parses a `-e` argument, `name = value` or `name=value`.
    public static func parseSetting(_ text: String) throws(ConfigError) -> (name: String, value: String) {
        guard let eq = text.firstIndex(of: "=") else {
            throw ConfigError("bad -e argument \"\(text)\"; expected name = value")
        }
        let name = text[..<eq].trimmingWhitespace()
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw ConfigError("bad parameter name \"\(name)\" in -e argument; expected letters, digits and '_'")
        }
        let value = text[text.index(after: eq)...].trimmingWhitespace()
        guard !value.contains("\n") else { throw ConfigError("parameter \(name): value contains a line break") }
        return (name, value)
    }

    /// Replaces a file atomically: a temporary file beside it, fsynced, renamed over it, and
    /// the directory fsynced. The file's mode is kept. Readers see the old or the new file,
    /// never a mix.
    public static func replaceFile(_ path: String, with text: String) throws {
        var st = stat()
        let mode: mode_t = stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o644
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("open", path: tmp) }
        do {
            defer { close(fd) }
            try Posix.writeAll(fd, Array(text.utf8), path: tmp)
            try Posix.fsync(fd, path: tmp)
        } catch {
            unlink(tmp)
            throw error
        }
        try Posix.publish(tmp, as: path)
    }
}

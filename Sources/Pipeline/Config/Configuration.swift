/// The configuration in force: main.cf's entries over the declared defaults, with Postfix's
/// `$name` expansion done at lookup time.
public struct Configuration: Sendable {
    /// Where main.cf was read from, or nil for the embedded defaults.
    public let file: String?
    public let table: ParameterTable
    public let system: SystemInfo
    public private(set) var entries: [String: ConfigEntry]
    /// Problems Postfix would only warn about.
    public let warnings: [ConfigError]

    /// The embedded default configuration: every parameter at its default.
    public init(table: ParameterTable = ParameterTable(), system: SystemInfo = .current()) {
        self.file = nil
        self.table = table
        self.system = system
        self.entries = [:]
        self.warnings = []
    }

    public init(mainCF text: String, file: String, table: ParameterTable = ParameterTable(),
                system: SystemInfo = .current()) throws(ConfigError) {
        let parsed = try MainCF.parse(text, file: file)
        self.file = file
        self.table = table
        self.system = system
        self.entries = Dictionary(parsed.entries.map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
        self.warnings = parsed.warnings
    }

    /// Where the configuration directory is: `-c DIR` first (as Postfix's `-c`), then
    /// `MDAD_CONFIG_DIR`, then `/etc/mdad`.
    public static func directory(commandLine: String?) -> (path: String, explicit: Bool) {
        if let dir = commandLine { return (dir, true) }
        if let dir = Posix.environment("MDAD_CONFIG_DIR"), !dir.isEmpty { return (dir, true) }
        return ("/etc/mdad", false)
    }

    /// Loads DIR/main.cf. A missing main.cf in the default directory means the embedded
    /// defaults; a directory named explicitly must have one.
    public static func load(directory: String, explicit: Bool, table: ParameterTable = ParameterTable(),
                            system: SystemInfo = .current()) throws(ConfigError) -> Configuration {
        let path = directory.hasSuffix("/") ? directory + "main.cf" : directory + "/main.cf"
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path, limit: 4 << 20)
        } catch let error as SystemError {
            if !explicit, error.errno == ENOENT_ {
                return Configuration(table: table, system: system)
            }
            throw ConfigError(file: path, "cannot read configuration: \(error.message)")
        } catch {
            throw ConfigError(file: path, "cannot read configuration: \(error)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return try Configuration(mainCF: text, file: path, table: table, system: system)
    }

    /// Sets a value as if it were the last line of main.cf (for `-o name=value` and tests).
    public mutating func set(_ name: String, _ value: String) {
        entries[name] = ConfigEntry(name: name, value: value, file: "command line", line: 0)
    }

    /// The names set in main.cf that no core parameter nor registered stage declares.
    /// (Postfix warns about these as "unused parameter"; mdad does the same.)
    public var unknownEntries: [ConfigEntry] {
        entries.values.filter { table[$0.name] == nil }.sorted { $0.line < $1.line }
    }

    /// Unknown names that no other value refers to as `$name`: Postfix's "unused parameter".
    /// (A user-defined name used as a macro elsewhere is not unused.)
    public var unusedEntries: [ConfigEntry] {
        let unknown = unknownEntries
        if unknown.isEmpty { return [] }
        let referenced = Set(entries.values.flatMap { Postconf.references(in: $0.value) })
        return unknown.filter { !referenced.contains($0.name) }
    }

    /// The value as written (or the default), before `$name` expansion.
    public func rawValue(_ name: String) -> String? {
        if let e = entries[name] { return e.value }
        return table[name]?.defaultValue.value(system)
    }

    /// Where a parameter was set, for error messages.
    public func origin(_ name: String) -> (file: String?, line: Int?) {
        if let e = entries[name] { return (e.file, e.line) }
        return (file, nil)
    }

    /// An error about a parameter, located at the line that set it.
    public func error(_ name: String, _ message: String) -> ConfigError {
        let (f, l) = origin(name)
        return ConfigError(file: f, line: l, message)
    }

    // MARK: expansion

    /// Postfix's macro expansion (postconf(5)): `$name`, `${name}`, `$(name)`,
    /// `${name?value}` (value if $name is non-empty), `${name:value}` (value if $name is empty),
    /// and `$$` for a literal dollar. Undefined names expand to nothing. Expansion is recursive
    /// and stops with an error past a depth of 100, which catches `a = $b`, `b = $a`.
    public func expand(_ text: String, parameter: String = "?", depth: Int = 0) throws(ConfigError) -> String {
        let dollar = UInt8(ascii: "$")
        guard text.utf8.contains(dollar) else { return text }
        if depth > 100 {
            throw error(parameter, "parameter \(parameter): recursive reference; expected a value that does not refer to itself")
        }
        // Every delimiter is ASCII, so the value is scanned as UTF-8 bytes and cut only there.
        let b = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            let c = b[i]
            i += 1
            guard c == dollar else { out.append(c); continue }
            guard i < b.count else { out.append(dollar); break }
            let next = b[i]
            if next == dollar { out.append(dollar); i += 1; continue }
            if next == UInt8(ascii: "{") || next == UInt8(ascii: "(") {
                let close = next == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: ")")
                // find the matching close, allowing nesting in the value part
                var level = 0
                var j = i
                var found: Int?
                while j < b.count {
                    if b[j] == next { level += 1 }
                    if b[j] == close { level -= 1; if level == 0 { found = j; break } }
                    j += 1
                }
                guard let end = found else {
                    throw error(parameter, "parameter \(parameter): missing '\(Character(Unicode.Scalar(close)))' after '$\(Character(Unicode.Scalar(next)))'")
                }
                let inner = b[(i + 1)..<end]
                i = end + 1
                if let op = inner.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: ":") }) {
                    let name = String(decoding: inner[..<op], as: UTF8.self)
                    var alt = inner[(op + 1)...]
                    if alt.count >= 2, alt.first == UInt8(ascii: "{"), alt.last == UInt8(ascii: "}") {
                        alt = alt.dropFirst().dropLast()
                    }
                    let value = try lookupExpanded(name, from: parameter, depth: depth)
                    if (inner[op] == UInt8(ascii: "?")) == !value.isEmpty {
                        out += try expand(String(decoding: alt, as: UTF8.self), parameter: parameter, depth: depth + 1).utf8
                    }
                } else {
                    out += try lookupExpanded(String(decoding: inner, as: UTF8.self), from: parameter, depth: depth).utf8
                }
                continue
            }
            let nameStart = i
            while i < b.count, Self.isNameByte(b[i]) { i += 1 }
            if i == nameStart { out.append(dollar); continue }
            out += try lookupExpanded(String(decoding: b[nameStart..<i], as: UTF8.self), from: parameter, depth: depth).utf8
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A byte of a `$name`: an ASCII letter, digit or underscore.
    private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
    }

    private func lookupExpanded(_ name: String, from: String, depth: Int) throws(ConfigError) -> String {
        guard let raw = rawValue(name) else { return "" }
        if depth + 1 > 100 {
            throw error(from, "parameter \(from): recursive reference to $\(name); expected a value that does not refer to itself")
        }
        return try expand(raw, parameter: from, depth: depth + 1)
    }

    // MARK: typed access

    /// The expanded value of a parameter; an undeclared, unset name is an error (a bug in the caller).
    public func string(_ name: String) throws(ConfigError) -> String {
        guard let raw = rawValue(name) else {
            throw ConfigError(file: file, "unknown parameter \(name)")
        }
        return try expand(raw, parameter: name)
    }

    /// A list parameter: split on commas and whitespace, as Postfix does.
    public func list(_ name: String) throws(ConfigError) -> [String] {
        Configuration.splitList(try string(name))
    }

    public static func splitList(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .map(String.init)
    }

    public func integer(_ name: String) throws(ConfigError) -> Int {
        let v = try string(name).trimmingWhitespace()
        guard let n = Int(v) else {
            throw error(name, "bad numerical configuration: \(name) = \(v); expected a whole number")
        }
        return n
    }

    public func size(_ name: String) throws(ConfigError) -> Int {
        let n = try integer(name)
        guard n >= 0 else {
            throw error(name, "bad numerical configuration: \(name) = \(n); expected a number of bytes, 0 or more")
        }
        return n
    }

    /// A time interval in seconds (`.time` parameters: `1000s`, `5m`, `2h`, `5d`, `1w`, or a bare
    /// number of seconds).
    public func seconds(_ name: String) throws(ConfigError) -> Int {
        let v = try string(name).trimmingWhitespace().lowercased()
        var digits = Substring(v), unit = 1
        let units: Int? = switch v.last {
        case "s": 1
        case "m": 60
        case "h": 3600
        case "d": 86400
        case "w": 604800
        default: nil
        }
        if let u = units { digits = v.dropLast(); unit = u }
        guard let n = Int(digits), n >= 0, n <= Int.max / unit else {
            throw error(name, "bad time configuration: \(name) = \(v); expected a number with an optional unit s, m, h, d or w")
        }
        return n * unit
    }

    public func bool(_ name: String) throws(ConfigError) -> Bool {
        let v = try string(name).trimmingWhitespace().lowercased()
        switch v {
        case "yes", "true", "1", "on": return true
        case "no", "false", "0", "off": return false
        default:
            throw error(name, "bad boolean configuration: \(name) = \(v); expected yes or no")
        }
    }

    /// Checks every set parameter against its declared type, so a typo is reported at load
    /// time with its file and line rather than at the first message that needs it.
    ///
    /// A parameter left at a constant default is skipped: the defaults are checked once, by the
    /// tests (`validate(defaults: true)`), not at every start of `mdad deliver`. A default
    /// that refers to other parameters (`$name`) is checked, since what it refers to may be set.
    public func validate(defaults: Bool = false) throws(ConfigError) {
        for name in table.order {
            guard let decl = table[name] else { continue }
            if !defaults, entries[name] == nil, !decl.defaultValue.refersToParameters { continue }
            switch decl.kind {
            case .string, .list: _ = try string(name)
            case .integer: _ = try integer(name)
            case .size: _ = try size(name)
            case .boolean: _ = try bool(name)
            case .time: _ = try seconds(name)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
let ENOENT_ = ENOENT
#elseif canImport(Darwin)
import Darwin
let ENOENT_ = ENOENT
#endif

/// The table types mdad knows, by the prefix Postfix uses (`texthash:`, `inline:`, `static:`).
/// Targets Pipeline cannot import add theirs (`pgsql:`) with ``contribute(_:_:)``.
public struct TableRegistry: Sendable {
    /// Opens a table from its argument (what follows `type:`).
    public typealias Opener = @Sendable (_ argument: String, _ name: String) throws(ConfigError) -> any LookupTable

    public private(set) var openers: [String: Opener] = [:]

    public init() {}

    public mutating func register(_ type: String, _ opener: @escaping Opener) {
        precondition(openers[type] == nil, "table type \(type) registered twice")
        openers[type] = opener
    }

    /// The types every mdad has.
    public static var builtin: TableRegistry { builtin(pcreLimits: PCRERegex.Limits()) }

    /// The built-in types with main.cf's limits for `pcre:` tables
    /// (`pcre_match_limit`, `pcre_depth_limit`).
    public static func configured(_ configuration: Configuration) throws(ConfigError) -> TableRegistry {
        builtin(pcreLimits: try PCRERegex.Limits(configuration))
    }

    static func builtin(pcreLimits: PCRERegex.Limits) -> TableRegistry {
        var r = TableRegistry()
        r.register("texthash") { arg, name throws(ConfigError) in try TextHashTable(path: arg, name: name) }
        r.register("inline") { arg, name throws(ConfigError) in try InlineTable(argument: arg, name: name) }
        r.register("static") { arg, name throws(ConfigError) in StaticTable(argument: arg, name: name) }
        r.register("pcre") { arg, name throws(ConfigError) in try PCRETable(path: arg, name: name, limits: pcreLimits) }
        r.register("cdb") { arg, name throws(ConfigError) in try CDBTable(source: arg, name: name) }
        r.register("passwd-file") { arg, name throws(ConfigError) in try PasswdFileTable(path: arg, name: name) }
        r.addContributed()
        return r
    }

    /// Whether `spec` names a table of a registered type (`type:argument`).
    public func isTable(_ spec: String) -> Bool {
        guard let colon = spec.firstIndex(of: ":") else { return false }
        return openers[String(spec[..<colon])] != nil
    }

    /// Opens one table, `type:argument`.
    public func open(_ spec: String) throws(ConfigError) -> any LookupTable {
        guard let colon = spec.firstIndex(of: ":") else {
            throw ConfigError("\"\(spec)\" is not a table; expected type:name, for example texthash:/etc/mdad/virtual")
        }
        let type = String(spec[..<colon])
        guard let opener = openers[type] else {
            let known = openers.keys.sorted().joined(separator: ", ")
            // mdad-deliver leaves out the PostgreSQL client to start faster, and hands such a
            // delivery to mdad while it still can.
            if type == "pgsql" { HandOff.ifPossible(reason: "\(spec): pgsql: tables need the mdad program") }
            let hint = type == "pgsql" ? " (pgsql: tables need the mdad program: mdad deliver, not mdad-deliver)" : ""
            throw ConfigError("unsupported table type \"\(type)\" in \"\(spec)\"; expected one of: \(known)\(hint)")
        }
        return try opener(String(spec[spec.index(after: colon)...]), spec)
    }

    /// Opens the tables a parameter lists, in order. Braces group `inline:{ … }` and
    /// `static:{ … }` arguments that contain commas or spaces, as in Postfix.
    public func openList(_ configuration: Configuration, _ parameter: String) throws(ConfigError) -> TableList {
        let value = try configuration.string(parameter)
        var tables: [any LookupTable] = []
        for spec in TableRegistry.splitTableList(value) {
            do {
                tables.append(try open(spec))
            } catch {
                let (file, line) = configuration.origin(parameter)
                throw ConfigError(file: error.file ?? file, line: error.line ?? line, "\(parameter): \(error.message)")
            }
        }
        return TableList(tables)
    }

    /// Splits a list on commas and whitespace, keeping `{ … }` groups whole.
    public static func splitTableList(_ value: String) -> [String] {
        splitOutsideBraces(value) { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }
    }

    /// Splits where `isSeparator` holds outside `{ … }` groups; items are trimmed, empty
    /// ones dropped. Postfix's rule for table lists and inline tables alike.
    static func splitOutsideBraces(_ value: String, isSeparator: (Character) -> Bool) -> [String] {
        var items: [String] = []
        var current = ""
        var depth = 0
        for c in value {
            if c == "{" { depth += 1 }
            if c == "}" { depth = max(0, depth - 1) }
            if depth == 0 && isSeparator(c) {
                let t = current.trimmingWhitespace()
                if !t.isEmpty { items.append(t) }
                current = ""
            } else {
                current.append(c)
            }
        }
        let t = current.trimmingWhitespace()
        if !t.isEmpty { items.append(t) }
        return items
    }
}

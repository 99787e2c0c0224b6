/// A lookup table, as Postfix's tables are: a key goes in, a value (or nothing) comes out.
///
/// Tables are named by type and argument, `type:argument` (`texthash:/etc/mdad/virtual`,
/// `static:5000`, `inline:{ a=b }`), opened once when the configuration is loaded, and shared.
/// A lookup that cannot be answered (a database down, a file unreadable) throws ``TableError``,
/// which delivery turns into a temporary failure (4.3.0), never a bounce.
public protocol LookupTable: Sendable {
    /// The table's name as configured, for messages.
    var name: String { get }
    /// The value for `key`, or nil when the table has no such key.
    func lookup(_ key: String) throws(TableError) -> String?
    /// The value for `key` when the asking parameter wants a particular field: a table that
    /// holds whole user records (`passwd-file:`) answers the uid to `virtual_uid_maps` and the
    /// mailbox to `virtual_mailbox_maps`; every other table answers its one value.
    func lookup(_ key: String, field: TableField) throws(TableError) -> String?
}

/// Which part of a user record a lookup wants.
public enum TableField: Sendable {
    case value, uid, gid
}

extension LookupTable {
    public func lookup(_ key: String, field: TableField) throws(TableError) -> String? { try lookup(key) }
}

/// A table that could not answer.
public struct TableError: Error, Sendable, Equatable, CustomStringConvertible {
    public let table: String
    public let message: String

    public init(table: String, _ message: String) {
        self.table = table
        self.message = message
    }

    public var description: String { "\(table): \(message)" }
}

/// Several tables searched in order, as a Postfix parameter lists them
/// (`virtual_mailbox_maps = texthash:/a, texthash:/b`): the first answer wins.
public struct TableList: Sendable {
    public let tables: [any LookupTable]

    public init(_ tables: [any LookupTable]) { self.tables = tables }

    public var isEmpty: Bool { tables.isEmpty }

    public func lookup(_ key: String, field: TableField = .value) throws(TableError) -> String? {
        for t in tables {
            if let v = try t.lookup(key, field: field) { return v }
        }
        return nil
    }

    /// Postfix's lookup order for an address in a virtual(5)-style table:
    /// `user+ext@domain`, then `user@domain` (with the extension removed, when
    /// `recipient_delimiter` is set), then `@domain`. Keys are compared case-insensitively.
    public func lookupAddress(_ address: String, recipientDelimiter: String = "", field: TableField = .value) throws(TableError) -> String? {
        let a = address.lowercased()
        if let v = try lookup(a, field: field) { return v }
        guard let at = a.lastIndex(of: "@") else { return nil }
        let local = a[..<at]
        let domain = a[at...]  // includes "@"
        if !recipientDelimiter.isEmpty,
           let cut = local.firstIndex(where: { recipientDelimiter.contains($0) }), cut != local.startIndex {
            if let v = try lookup(String(local[..<cut]) + domain, field: field) { return v }
        }
        return try lookup(String(domain), field: field)
    }
}

/// A table read from a text file can report the lines it could not use (file, line and what
/// was expected), as Postfix warns about them.
public protocol TableWithWarnings: LookupTable {
    var warnings: [ConfigError] { get }
}

extension TableRegistry {
    /// The warnings of every text table main.cf names (each table once), for a daemon to log
    /// at start-up and reload.
    public func warnings(_ configuration: Configuration) -> [ConfigError] {
        var seen = Set<String>()
        var out: [ConfigError] = []
        for name in configuration.entries.keys.sorted() {
            guard let value = try? configuration.string(name) else { continue }
            for spec in TableRegistry.splitTableList(value) where isTable(spec) && seen.insert(spec).inserted {
                if let table = try? open(spec) as? any TableWithWarnings { out += table.warnings }
            }
        }
        return out
    }
}

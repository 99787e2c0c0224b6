import Pipeline

/// `pgsql:/etc/mdad/pgsql-aliases.cf`: a lookup table in PostgreSQL, as Postfix's
/// pgsql_table(5), so that several mdad hosts share one alias or virtual map.
///
/// The key is folded to lower case (as Postfix folds fixed-string keys), checked against
/// `domain`, and bound as a parameter of the query (see ``PgsqlQueryTemplate``); every column of
/// every row goes through `result_format` and the results are joined with "," as Postfix joins
/// them. No row, or only empty values, is "not found". A server that cannot be reached, a query
/// that fails or times out, or more results than `expansion_limit` throws ``TableError``, which
/// callers turn into a deferral (4.3.0).
public struct PgsqlLookupTable: LookupTable {
    public let name: String
    let settings: PgsqlSettings
    let template: PgsqlQueryTemplate
    let resultFormat: PgsqlResultFormat
    let domains: PgsqlDomainList
    let connections: PgsqlConnections

    /// Keys longer than this are not looked up (no address is this long).
    static let maxKeyBytes = 4096

    public init(path: String, name: String) throws(ConfigError) {
        self.name = name
        settings = try PgsqlSettings.load(path: path)
        template = try PgsqlQueryTemplate(settings.query, file: path)
        resultFormat = try PgsqlResultFormat(settings.resultFormat, file: path)
        domains = try PgsqlDomainList(settings.domains, file: path)
        connections = try PgsqlConnections(settings)
    }

    public func lookup(_ key: String) throws(TableError) -> String? {
        let folded = key.lowercased()
        guard folded.utf8.count <= PgsqlLookupTable.maxKeyBytes, !folded.contains("\0") else { return nil }
        if !domains.isEmpty {
            guard let at = folded.lastIndex(of: "@"), at != folded.startIndex,
                  try domains.matches(String(folded[folded.index(after: at)...])) else { return nil }
        }
        let k = PgsqlKey(folded)
        guard let parameters = template.bind(k) else { return nil }
        let values: [String?]
        do {
            values = try connections.run(template.sql, parameters)
        } catch {
            switch error {
            case .server(let m): throw TableError(table: name, "query failed: \(m)")
            case .link(let m): throw TableError(table: name, "no PostgreSQL server answered: \(m)")
            case .answer(let m): throw TableError(table: name, m)
            }
        }
        var results: [String] = []
        for case let value? in values {
            guard let formatted = resultFormat.format(value, key: k) else { continue }
            results.append(formatted)
            if settings.expansionLimit > 0 && results.count > settings.expansionLimit {
                throw TableError(table: name, "expansion limit \(settings.expansionLimit) exceeded for key \"\(folded)\"")
            }
        }
        let joined = results.joined(separator: ",")
        return joined.isEmpty ? nil : joined
    }
}

/// Contributes `pgsql:` to every ``TableRegistry`` of this process; the programs that link
/// this target call it once at start-up (see ``TableRegistry/contribute(_:_:)``).
public enum PgsqlTableType {
    public static func register() {
        TableRegistry.contribute("pgsql") { argument, name throws(ConfigError) in
            try PgsqlLookupTable(path: argument, name: name)
        }
    }
}

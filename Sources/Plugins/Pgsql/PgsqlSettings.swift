import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// A pgsql_table(5) configuration file: main.cf syntax, Postfix's parameter names.
///
/// `hosts` (`host`, `host:port`, `inet:host:port`, `unix:/socket/directory`,
/// `postgresql://user:password@host:port/dbname?host=/socket/directory`, several for fail-over), `user`, `password`, `dbname`, `query` (or the obsolete `select_function`,
/// `table`/`select_field`/`where_field`/`additional_conditions`), `result_format`,
/// `expansion_limit`, `domain`, `retry_interval`. mdad adds `connect_timeout` and
/// `query_timeout` (seconds; Postfix has none and ignores them). Names Postfix does not know
/// are ignored as Postfix ignores them.
struct PgsqlSettings: Sendable, Equatable {
    /// Where to connect and as whom: the file's `user`, `password` and `dbname`, or what a
    /// `postgresql://` URI in `hosts` says (libpq reads only the URI then, and so does mdad).
    struct Endpoint: Sendable, Equatable {
        var address: Host
        var user: String
        var password: String?
        var dbname: String
        /// libpq's sslmode: `prefer` unless a URI says otherwise (never over a UNIX socket).
        var tls: TLSMode = .prefer

        var description: String { address.description }
    }

    /// libpq's sslmode values. `prefer` and `require` encrypt without checking the server's
    /// certificate (as libpq does without a root certificate); `verify-ca` checks it against
    /// `sslrootcert` (the system's roots when none is named), `verify-full` the host name too.
    enum TLSMode: Sendable, Equatable {
        case disable
        case prefer
        case require
        case verifyCA(rootCertificate: String?)
        case verifyFull(rootCertificate: String?)
    }

    enum Host: Sendable, Equatable {
        case inet(host: String, port: Int)
        /// The socket file itself (`directory/.s.PGSQL.port`, as libpq names it).
        case unix(path: String)

        var description: String {
            switch self {
            case .inet(let h, let p): "\(h):\(p)"
            case .unix(let path): "unix:\(path)"
            }
        }
    }

    var file: String
    var endpoints: [Endpoint]
    var query: String
    var resultFormat: String
    var expansionLimit: Int
    var domains: [String]
    var retryInterval: Int
    var connectTimeout: Int
    var queryTimeout: Int

    /// libpq's default port: $PGPORT, else 5432 (Postfix passes no port for `unix:` hosts).
    static var defaultPort: Int {
        if let p = getenv("PGPORT").map({ String(cString: $0) }), let n = Int(p), (1...65535).contains(n) { return n }
        return 5432
    }

    static func load(path: String) throws(ConfigError) -> PgsqlSettings {
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path, limit: 1 << 20)
        } catch {
            throw ConfigError(file: path, "cannot open pgsql table configuration: \(error)")
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path)
    }

    static func parse(_ text: String, file: String) throws(ConfigError) -> PgsqlSettings {
        let parsed = try MainCF.parse(text, file: file)
        var values: [String: ConfigEntry] = [:]
        for e in parsed.entries { values[e.name] = e }
        func string(_ name: String, _ fallback: String = "") -> String { values[name]?.value ?? fallback }
        func integer(_ name: String, _ fallback: Int, min: Int) throws(ConfigError) -> Int {
            guard let e = values[name] else { return fallback }
            guard let n = Int(e.value), n >= min else {
                throw ConfigError(file: file, line: e.line, "bad \(name) value \"\(e.value)\"; expected a number >= \(min)")
            }
            return n
        }

        var query = string("query")
        if values["query"] == nil {
            // The obsolete interfaces, built as Postfix builds them.
            if let f = values["select_function"] {
                query = "SELECT \(f.value)('%s')"
            } else if values["table"] != nil || values["select_field"] != nil || values["where_field"] != nil {
                for name in ["table", "select_field", "where_field"] where values[name] == nil {
                    throw ConfigError(file: file, "'\(name)' parameter not defined; expected query = SELECT ... or table, select_field and where_field")
                }
                query = "SELECT \(string("select_field")) FROM \(string("table")) WHERE \(string("where_field"))='%s' \(string("additional_conditions"))"
            } else {
                throw ConfigError(file: file, "no query defined; expected query = SELECT ... WHERE ... = '%s'")
            }
        }
        let dbname = string("dbname")
        let user = string("user").isEmpty ? currentUserName() : string("user")
        let password = string("password").isEmpty ? nil : string("password")
        var endpoints: [Endpoint] = []
        let hostWords = Configuration.splitList(string("hosts"))
        let hostsLine = values["hosts"]?.line
        for word in hostWords.isEmpty ? ["localhost"] : hostWords {
            if word.hasPrefix("postgresql://") || word.hasPrefix("postgres://") {
                endpoints.append(try PgsqlURI.endpoint(word, file: file, line: hostsLine))
                continue
            }
            // As Postfix: a host that is not a URI needs the file's dbname.
            guard !dbname.isEmpty else {
                throw ConfigError(file: file, "host target '\(word)' requires dbname setting; expected dbname = the database name")
            }
            endpoints.append(Endpoint(address: try host(word, file: file, line: hostsLine), user: user, password: password, dbname: dbname))
        }
        return PgsqlSettings(
            file: file, endpoints: endpoints, query: query,
            resultFormat: string("result_format", "%s"),
            expansionLimit: try integer("expansion_limit", 0, min: 0),
            domains: Configuration.splitList(string("domain")),
            retryInterval: try integer("retry_interval", 60, min: 1),
            connectTimeout: try integer("connect_timeout", 10, min: 1),
            queryTimeout: try integer("query_timeout", 30, min: 1))
    }

    /// One `hosts` word, read the way Postfix and libpq read it.
    static func host(_ word: String, file: String, line: Int?) throws(ConfigError) -> Host {
        var w = Substring(word)
        if w.hasPrefix("unix:") || w.hasPrefix("inet:") { w = w.dropFirst(5) }
        if w.hasPrefix("/") {
            // libpq takes a directory and adds ".s.PGSQL.<port>"; a path to the socket file works too.
            let last = w.split(separator: "/").last ?? ""
            if last.hasPrefix(".s.PGSQL.") { return .unix(path: String(w)) }
            return .unix(path: (w.hasSuffix("/") ? String(w) : w + "/") + ".s.PGSQL.\(defaultPort)")
        }
        guard !w.isEmpty else { throw ConfigError(file: file, line: line, "empty host in hosts; expected host or host:port") }
        if let colon = w.lastIndex(of: ":"), !w.hasPrefix("[") {
            let name = String(w[..<colon]), portText = w[w.index(after: colon)...]
            guard let port = Int(portText), (1...65535).contains(port), !name.isEmpty else {
                throw ConfigError(file: file, line: line, "bad host \"\(word)\" in hosts; expected host:port with a port from 1 to 65535")
            }
            return .inet(host: name, port: port)
        }
        return .inet(host: String(w), port: defaultPort)
    }

    /// libpq's default user name: the one the process runs as.
    static func currentUserName() -> String {
        if let pw = getpwuid(geteuid()), let n = pw.pointee.pw_name { return String(cString: n) }
        return "postgres"
    }
}

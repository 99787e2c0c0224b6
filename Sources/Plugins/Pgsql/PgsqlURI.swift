import Pipeline

/// A `postgresql://` connection URI in `hosts`, as libpq reads it (PostgreSQL's "Connection
/// URIs"): `postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]`, with
/// percent-encoding, `host=/socket/directory` and `port=` among the parameters. Only the URI
/// counts for such a host: the file's `user`, `password` and `dbname` are not used, as with
/// Postfix. `sslmode` and `sslrootcert` choose TLS as libpq does (see ``PgsqlSettings/TLSMode``).
enum PgsqlURI {
    static func endpoint(_ uri: String, file: String, line: Int?) throws(ConfigError) -> PgsqlSettings.Endpoint {
        func fail(_ why: String) -> ConfigError {
            ConfigError(file: file, line: line, "bad connection URI \"\(uri)\": \(why)")
        }
        var rest = Substring(uri)
        rest = rest.drop(while: { $0 != ":" }).dropFirst(3)   // "postgresql://"
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") { query = rest[rest.index(after: q)...]; rest = rest[..<q] }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") { path = rest[rest.index(after: slash)...]; rest = rest[..<slash] }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") { userInfo = rest[..<at]; rest = rest[rest.index(after: at)...] }

        var user: String?, password: String?
        if let info = userInfo {
            let parts = info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try decode(parts[0], fail)
            if parts.count > 1 { password = try decode(parts[1], fail) }
        }
        guard !rest.contains(",") else { throw fail("several hosts in one URI; list each in hosts for fail-over") }
        var host: String?, port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("expected ] after an IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") { port = try number(rest.dropFirst(), fail) } else if !rest.isEmpty { throw fail("expected :port after ]") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = try decode(rest[..<colon], fail)
            port = try number(rest[rest.index(after: colon)...], fail)
        } else if !rest.isEmpty {
            host = try decode(rest, fail)
        }
        var dbname = path.isEmpty ? nil : try decode(path, fail)
        var sslmode = "prefer", rootCertificate: String?

        for pair in query.split(separator: "&") where !pair.isEmpty {
            guard let eq = pair.firstIndex(of: "=") else { throw fail("expected name=value in \"\(pair)\"") }
            let name = String(pair[..<eq]), value = try decode(pair[pair.index(after: eq)...], fail)
            switch name {
            case "host": host = value
            case "port": port = try number(Substring(value), fail)
            case "user": user = value
            case "password": password = value
            case "dbname": dbname = value
            case "sslmode": sslmode = value
            case "sslrootcert": rootCertificate = value
            case "application_name", "fallback_application_name", "connect_timeout", "client_encoding", "keepalives",
                 "keepalives_idle", "keepalives_interval", "keepalives_count", "target_session_attrs":
                break   // accepted, without effect in mdad (connect_timeout comes from the table file)
            default:
                throw fail("unknown parameter \"\(name)\"; expected host, port, user, password, dbname, sslmode or sslrootcert")
            }
        }
        let tls: PgsqlSettings.TLSMode
        switch sslmode {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer
        case "require": tls = .require
        case "verify-ca": tls = .verifyCA(rootCertificate: rootCertificate)
        case "verify-full": tls = .verifyFull(rootCertificate: rootCertificate)
        default: throw fail("sslmode=\(sslmode); expected disable, allow, prefer, require, verify-ca or verify-full")
        }
        let p = port ?? PgsqlSettings.defaultPort
        let address: PgsqlSettings.Host
        let h = host ?? "localhost"
        if h.hasPrefix("/") {
            address = .unix(path: (h.hasSuffix("/") ? h : h + "/") + ".s.PGSQL.\(p)")
        } else {
            address = .inet(host: h, port: p)
        }
        let u = (user?.isEmpty ?? true) ? PgsqlSettings.currentUserName() : user!
        // libpq's default database is the user name.
        return .init(address: address, user: u, password: (password?.isEmpty ?? true) ? nil : password,
                     dbname: (dbname?.isEmpty ?? true) ? u : dbname!, tls: tls)
    }

    static func number(_ text: Substring, _ fail: (String) -> ConfigError) throws(ConfigError) -> Int {
        guard let n = Int(text), (1...65535).contains(n) else { throw fail("bad port \"\(text)\"; expected 1 to 65535") }
        return n
    }

    /// Percent-decoding (%XX); the result must be UTF-8.
    static func decode(_ text: Substring, _ fail: (String) -> ConfigError) throws(ConfigError) -> String {
        var bytes: [UInt8] = []
        var u = Array(text.utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%") {
                guard u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) else {
                    throw fail("bad percent-encoding in \"\(text)\"")
                }
                bytes.append(v)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("\"\(text)\" is not UTF-8 once decoded") }
        return s
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The next hop as `relayhost` names it (Postfix's syntax): `[host]:port` is used as given
/// (an IPv6 address as `[ipv6:2001:db8::1]:port`); `host` or `host:port` is looked up as MX
/// records first (see ``mxLookup``).
public struct NextHop: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Whether the name is a mail domain whose MX records are wanted (no brackets).
    public var mxLookup: Bool
    /// As written in relayhost, the first key tried in smtp_sasl_password_maps.
    public var key: String

    public init(host: String, port: Int, mxLookup: Bool, key: String) {
        self.host = host
        self.port = port
        self.mxLookup = mxLookup
        self.key = key
    }

    public static func parse(_ text: String, defaultPort: Int = 25) throws(ConfigError) -> NextHop {
        let t = text.trimmingWhitespace()
        var host = Substring(t), port = defaultPort, mx = true
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw ConfigError("relayhost = \(t): expected [host]:port, the ] is missing") }
            host = t[t.index(after: t.startIndex)..<close]
            // Postfix writes an IPv6 address as [ipv6:2001:db8::1].
            if host.lowercased().hasPrefix("ipv6:") { host = host.dropFirst(5) }
            mx = false
            let rest = t[t.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), p > 0, p < 65536 else {
                    throw ConfigError("relayhost = \(t): expected a port number after ]:")
                }
                port = p
            }
        } else if let colon = t.lastIndex(of: ":") {
            guard let p = Int(t[t.index(after: colon)...]), p > 0, p < 65536 else {
                throw ConfigError("relayhost = \(t): expected host:port with a port number")
            }
            host = t[..<colon]
            port = p
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else {
            throw ConfigError("relayhost = \(t): expected [host]:port or a host name")
        }
        return NextHop(host: String(host), port: port, mxLookup: mx, key: t)
    }
}

/// The SMTP client's settings from main.cf, read once.
public struct RelayConfiguration: Sendable {
    public var relayhost: NextHop?
    public var heloName: String
    public var tlsLevel: TLSLevel
    public var wrapperMode: Bool
    public var caFile: String
    public var caPath: String
    public var saslEnabled: Bool
    public var passwords: TableList
    public var securityOptions: SASLSecurityOptions
    public var tlsSecurityOptions: SASLSecurityOptions
    public var connectTimeout: Int
    public var heloTimeout: Int
    public var commandTimeout: Int
    public var dataDoneTimeout: Int
    public var concurrency: Int
    public var connectionCacheTime: Int
    public var reuseLimit: Int
    public var queueRunDelay: Int
    public var minimalBackoff: Int
    public var maximalBackoff: Int
    public var maximalLifetime: Int
    public var bounceLifetime: Int
    public var scanInterval: Int
    public var delayWarning: Int
    public var hostName: String
    public var dnsResolver: String
    /// Warnings for the log (a password table others can read).
    public var warnings: [String] = []

    public init(_ c: Configuration) throws(ConfigError) {
        let rh = try c.string("relayhost").trimmingWhitespace()
        do { relayhost = rh.isEmpty ? nil : try NextHop.parse(rh) } catch { throw c.error("relayhost", error.description) }
        heloName = try c.string("smtp_helo_name")
        hostName = try c.string("myhostname")
        let level = try c.string("smtp_tls_security_level").trimmingWhitespace().lowercased()
        guard let l = level.isEmpty ? TLSLevel.none : TLSLevel(rawValue: level) else {
            throw c.error("smtp_tls_security_level", "smtp_tls_security_level = \(level): expected none, may, encrypt, verify or secure")
        }
        tlsLevel = l
        wrapperMode = try c.bool("smtp_tls_wrappermode")
        if wrapperMode && tlsLevel == .none { tlsLevel = .encrypt }
        caFile = try c.string("smtp_tls_CAfile")
        caPath = try c.string("smtp_tls_CApath")
        saslEnabled = try c.bool("smtp_sasl_auth_enable")
        do {
            securityOptions = try SASLSecurityOptions(try c.list("smtp_sasl_security_options"))
        } catch { throw c.error("smtp_sasl_security_options", error.description) }
        do {
            tlsSecurityOptions = try SASLSecurityOptions(try c.list("smtp_sasl_tls_security_options"))
        } catch { throw c.error("smtp_sasl_tls_security_options", error.description) }
        passwords = saslEnabled ? try TableRegistry.configured(c).openList(c, "smtp_sasl_password_maps") : TableList([])
        connectTimeout = try c.seconds("smtp_connect_timeout")
        heloTimeout = try c.seconds("smtp_helo_timeout")
        commandTimeout = try c.seconds("smtp_command_timeout")
        dataDoneTimeout = try c.seconds("smtp_data_done_timeout")
        concurrency = max(1, try c.integer("smtp_destination_concurrency_limit"))
        connectionCacheTime = try c.seconds("smtp_connection_cache_time_limit")
        reuseLimit = try c.integer("smtp_connection_reuse_count_limit")
        queueRunDelay = max(1, try c.seconds("queue_run_delay"))
        minimalBackoff = max(1, try c.seconds("minimal_backoff_time"))
        maximalBackoff = max(minimalBackoff, try c.seconds("maximal_backoff_time"))
        maximalLifetime = try c.seconds("maximal_queue_lifetime")
        bounceLifetime = try c.seconds("bounce_queue_lifetime")
        scanInterval = max(1, try c.seconds("queue_scan_interval"))
        delayWarning = try c.seconds("delay_warning_time")
        dnsResolver = try c.string("dns_resolver").trimmingWhitespace()
        if saslEnabled {
            for spec in TableRegistry.splitTableList(try c.string("smtp_sasl_password_maps")) {
                guard let colon = spec.firstIndex(of: ":") else { continue }
                var path = String(spec[spec.index(after: colon)...])
                if !Posix.exists(path), Posix.exists(path + ".cdb") { path += ".cdb" }
                var st = stat()
                if stat(path, &st) == 0, st.st_mode & 0o044 != 0 {
                    let mode = st.st_mode
                    warnings.append("warning: smtp_sasl_password_maps: \(path) is readable by group or others (mode \(String(mode & 0o777, radix: 8))); make it root-owned, mode 0600")
                }
            }
        }
    }

    /// The session settings for a server, with the credentials smtp_sasl_password_maps has for it.
    public func sessionSettings(host: String, port: Int) throws(TableError) -> SMTPClientSession.Settings {
        let creds = saslEnabled
            ? try SASLCredentials.lookup(in: passwords, host: host, port: port,
                                         relayhostKey: relayhost.map { $0.host == host && $0.port == port ? $0.key : "" })
            : nil
        return SMTPClientSession.Settings(heloName: heloName, tlsLevel: tlsLevel, implicitTLS: wrapperMode, credentials: creds,
                                          securityOptions: securityOptions, tlsSecurityOptions: tlsSecurityOptions)
    }

    /// Postfix's backoff: wait as long as the message has waited, between the two limits;
    /// then up to a quarter more at random, so that a queue deferred together does not come
    /// back together.
    public func nextAttempt(now: Int, arrival: Int) -> Int {
        let age = max(0, now - arrival)
        let base = min(max(age, minimalBackoff), maximalBackoff)
        return now + base + Int.random(in: 0...max(0, base / 4))
    }
}

import Pipeline

/// SASL for the SMTP client (RFC 4954): the mechanisms mdad offers, PLAIN and LOGIN, and the
/// credentials from `smtp_sasl_password_maps`. Credentials never appear in a log line or an error.
public struct SASLCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `username:password`, as Postfix's sasl_passwd tables hold them.
    public init?(tableValue: String) {
        guard let colon = tableValue.firstIndex(of: ":") else { return nil }
        username = String(tableValue[..<colon])
        password = String(tableValue[tableValue.index(after: colon)...])
    }

    /// Never the password.
    public var description: String { "SASL credentials for \(username)" }

    /// Postfix's lookup order: `[host]:port` (as relayhost names it), then `host`.
    public static func lookup(in tables: TableList, host: String, port: Int, relayhostKey: String?) throws(TableError) -> SASLCredentials? {
        var keys: [String] = []
        if let k = relayhostKey { keys.append(k) }
        keys += ["[\(host)]:\(port)", "[\(host)]", host]
        for k in keys {
            if let v = try tables.lookup(k.lowercased()) { return SASLCredentials(tableValue: v) }
            if let v = try tables.lookup(k) { return SASLCredentials(tableValue: v) }
        }
        return nil
    }
}

public enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN", login = "LOGIN", cramMD5 = "CRAM-MD5"

    /// The first mechanism of ours that the server offers, in our order of preference:
    /// PLAIN, LOGIN (both plaintext, for TLS sessions), and CRAM-MD5 only when the server offers
    /// neither (or plaintext is not allowed).
    public static func choose(offered: [String], allowPlaintext: Bool) -> SASLMechanism? {
        let up = Set(offered.map { $0.uppercased() })
        if allowPlaintext, let m = [SASLMechanism.plain, .login].first(where: { up.contains($0.rawValue) }) { return m }
        return up.contains(SASLMechanism.cramMD5.rawValue) ? .cramMD5 : nil
    }
}

/// `smtp_sasl_security_options`: what a mechanism must not be.
public struct SASLSecurityOptions: Sendable, Equatable {
    public var noPlaintext = false
    public var noAnonymous = true

    public init(_ words: [String]) throws(ConfigError) {
        noAnonymous = false
        for w in words {
            switch w.lowercased() {
            case "noplaintext": noPlaintext = true
            case "noanonymous": noAnonymous = true
            case "nodictionary", "noactive", "mutual_auth": break  // PLAIN and LOGIN are neither
            default: throw ConfigError("unknown SASL security option \"\(w)\"; expected noanonymous, noplaintext, nodictionary, noactive or mutual_auth")
            }
        }
    }
}

/// Base64 (RFC 4648) for SASL exchanges.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 15) << 2 | b2 >> 6)] : 61)
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 63)] : 61)
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// SRS as main.cf configures it: on when `srs_domain` is set.
public struct SRSConfiguration: Sendable {
    public static let parameters: [ParameterDeclaration] = [
        .init("srs_domain", .string, default: "",
              "Rewrite the envelope sender of forwarded mail into this domain (SRS0/SRS1, as postsrsd); empty turns SRS off. Bounces to SRS addresses in it are reversed by the srs stage."),
        .init("srs_secrets", .string, default: "",
              "File of SRS secrets, one a line: the first signs, all verify (add a new first line to rotate; drop the old one after srs_maximum_age). Keep it mode 0600."),
        .init("srs_exclude_domains", .list, default: "$mydestination",
              "Senders in these domains are not rewritten (a leading dot: every subdomain, as postsrsd's -X)."),
        .init("srs_separator", .string, default: "=", "The character after SRS0/SRS1: =, + or - (postsrsd's -a)."),
        .init("srs_hash_length", .integer, default: "4", "Characters of the HMAC-SHA1 written into a rewritten address (postsrsd's -n)."),
        .init("srs_hash_minimum", .integer, default: "4", "The fewest hash characters accepted when reversing (postsrsd's -N)."),
        .init("srs_maximum_age", .time, default: "21d", "How long a rewritten address stays valid for bounces (libsrs2's 21 days)."),
    ]

    public let srs: SRS
    public let excludedDomains: [String]

    /// SRS as configured, or nil when `srs_domain` is empty.
    public static func configured(_ config: Configuration) throws(ConfigError) -> SRSConfiguration? {
        let domain = try config.string("srs_domain").trimmingWhitespace()
        guard !domain.isEmpty else { return nil }
        guard SRS.cryptoAvailable else {
            throw config.error("srs_domain", "srs_domain = \(domain): SRS needs HMAC-SHA1 from OpenSSL's libcrypto.so.3, which cannot be loaded (install libssl3)")
        }
        let path = try config.string("srs_secrets").trimmingWhitespace()
        guard !path.isEmpty else { throw config.error("srs_secrets", "srs_domain is set but srs_secrets is empty: expected a file of secrets, one a line") }
        let bytes: [UInt8]
        do { bytes = try Posix.readFile(path, limit: 1 << 20) } catch {
            throw config.error("srs_secrets", "srs_secrets = \(path): cannot read: \(error)")
        }
        // Lines as postsrsd reads them: without CR/LF; empty lines are skipped.
        let secrets = bytes.split(separator: 10).map { Array($0.filter { $0 != 13 }) }.filter { !$0.isEmpty }
        guard !secrets.isEmpty else { throw config.error("srs_secrets", "\(path): no secret in the file: expected one secret a line") }
        let sep = try config.string("srs_separator").trimmingWhitespace()
        guard sep.count == 1, let separator = sep.first, "=+-".contains(separator) else {
            throw config.error("srs_separator", "srs_separator = \(sep): expected =, + or -")
        }
        let length = try config.integer("srs_hash_length"), minimum = try config.integer("srs_hash_minimum")
        guard (1...27).contains(length) else { throw config.error("srs_hash_length", "srs_hash_length = \(length): expected 1 to 27") }
        guard (1...length).contains(minimum) else {
            throw config.error("srs_hash_minimum", "srs_hash_minimum = \(minimum): expected 1 to srs_hash_length (\(length))")
        }
        let age = try config.seconds("srs_maximum_age") / 86_400
        guard age >= 1 else { throw config.error("srs_maximum_age", "srs_maximum_age: expected at least one day") }
        return SRSConfiguration(srs: SRS(domain: domain, secrets: secrets, separator: separator, hashLength: length,
                                         hashMinimum: minimum, maximumAge: age),
                                excludedDomains: try config.list("srs_exclude_domains").map { $0.lowercased() })
    }

    public init(srs: SRS, excludedDomains: [String]) {
        self.srs = srs
        self.excludedDomains = excludedDomains
    }

    /// The sender a forward goes out with: rewritten unless null, excluded or already ours.
    public func forwardSender(_ sender: String) -> String {
        guard let at = sender.lastIndex(of: "@") else { return sender }
        let host = sender[sender.index(after: at)...].lowercased()
        for d in excludedDomains where d == host || (d.hasPrefix(".") && host.hasSuffix(d)) { return sender }
        return srs.forward(sender) ?? sender
    }

    /// Whether a recipient is an SRS address of ours (the srs stage reverses those).
    public func isOurs(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return false }
        return address[address.index(after: at)...].lowercased() == srs.domain.lowercased() && SRS.isSRS(address)
    }
}

/// Forwards go out with the sender rewritten (aliases to remote addresses, .forward, Sieve
/// redirect, procmail `!`): the transport under it is the queue or `sendmail_path`.
public struct SRSTransport: OutboundTransport {
    public let inner: any OutboundTransport
    public let configuration: SRSConfiguration

    public init(inner: any OutboundTransport, configuration: SRSConfiguration) {
        self.inner = inner
        self.configuration = configuration
    }

    /// The transport with SRS over it when main.cf sets `srs_domain`.
    public static func wrapping(_ inner: any OutboundTransport, _ config: Configuration) throws(ConfigError) -> any OutboundTransport {
        guard let srs = try SRSConfiguration.configured(config) else { return inner }
        return SRSTransport(inner: inner, configuration: srs)
    }

    public func send(sender: String, recipients: [String], prepending: [HeaderField], message: Message) throws(DeliveryStatus) {
        try inner.send(sender: configuration.forwardSender(sender), recipients: recipients, prepending: prepending, message: message)
    }

    public func send(_ message: OutboundMessage) throws(DeliveryStatus) {
        var m = message
        m.sender = configuration.forwardSender(message.sender)
        try inner.send(m)
    }
}

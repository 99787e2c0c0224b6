import Pipeline

/// When cleanup(8) rewrites message headers at all (Postfix's `local_header_rewrite_clients`
/// and `remote_header_rewrite_domain`): always for mail submitted on standard input; for an
/// LMTP client listed in local_header_rewrite_clients, in the "local" context ($myorigin,
/// $mydomain); for any other client only when remote_header_rewrite_domain is set, completing
/// addresses with that domain — and not at all otherwise, canonical maps and masquerading of
/// headers included. The envelope is always rewritten.
public struct HeaderRewriteScope: Sendable, Equatable {
    public enum Context: Sendable, Equatable {
        case local
        case remote(domain: String)
    }

    public enum Rule: Sendable, Equatable {
        /// A client on a loopback address or a UNIX socket (mdad's interfaces).
        case inetInterfaces
        /// Any LMTP client mdad accepts (mynetworks is checked when it connects).
        case mynetworks
        /// Every client.
        case all
    }

    public let rules: [Rule]
    public let remoteDomain: String

    public init(rules: [Rule] = [.inetInterfaces], remoteDomain: String = "") {
        self.rules = rules
        self.remoteDomain = remoteDomain
    }

    public init(configuration c: Configuration) throws(ConfigError) {
        var rules: [Rule] = []
        for item in try c.list("local_header_rewrite_clients") {
            switch item.lowercased() {
            case "permit_inet_interfaces": rules.append(.inetInterfaces)
            case "permit_mynetworks": rules.append(.mynetworks)
            case "static:all": rules.append(.all)
            default:
                throw c.error("local_header_rewrite_clients", "unsupported local_header_rewrite_clients value \"\(item)\"; expected permit_inet_interfaces, permit_mynetworks or static:all")
            }
        }
        self.init(rules: rules, remoteDomain: try c.string("remote_header_rewrite_domain").trimmingWhitespace())
    }

    /// The context for a message from `client` (Postfix's `name[address]` form, `local` for a
    /// UNIX socket, nil for standard input), or nil when its headers stay as they are.
    public func context(client: String?) -> Context? {
        guard let client else { return .local }
        for rule in rules {
            switch rule {
            case .all, .mynetworks: return .local
            case .inetInterfaces: if Self.isLoopback(client) { return .local }
            }
        }
        return remoteDomain.isEmpty ? nil : .remote(domain: remoteDomain)
    }

    static func isLoopback(_ client: String) -> Bool {
        if client == "local" { return true }
        var address = Substring(client)
        if let open = address.lastIndex(of: "["), address.hasSuffix("]") {
            address = address[address.index(after: open)..<address.index(before: address.endIndex)]
        }
        return address.hasPrefix("127.") || address == "::1" || address.lowercased().hasPrefix("::ffff:127.")
    }
}

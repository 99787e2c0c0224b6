import Pipeline

/// trivial-rewrite(8)'s "standard form" for one address: what Postfix does to an address before
/// canonical mapping and masquerading.
///
/// In the order Postfix applies them (`rewrite_tree` in Postfix's src/trivial-rewrite/rewrite.c):
/// - `<@a,@b:user@c>`: the obsolete source route is dropped;
/// - an address without `@`: `site!user` becomes `user@site` (swap_bangpath, the first `!`),
///   else `user%domain` becomes `user@domain` (allow_percent_hack, the last `%`), else
///   `@$myorigin` is appended (append_at_myorigin);
/// - a domain without a dot that is not a literal gets `.$mydomain` (append_dot_mydomain);
/// - one trailing dot is removed (`user@host.` becomes `user@host`).
///
/// The null address `<>` is left alone; a lone `@` becomes the null address.
public struct AddressQualifier: Sendable, Equatable {
    public var appendAtMyorigin: Bool
    public var appendDotMydomain: Bool
    public var swapBangpath: Bool
    public var allowPercentHack: Bool
    /// What an unqualified address is completed with: $myorigin, or remote_header_rewrite_domain.
    public var origin: String
    /// What a dotless domain is completed with: $mydomain, or remote_header_rewrite_domain.
    public var domain: String

    public init(appendAtMyorigin: Bool = true, appendDotMydomain: Bool = false, swapBangpath: Bool = true,
                allowPercentHack: Bool = true, origin: String, domain: String) {
        self.appendAtMyorigin = appendAtMyorigin
        self.appendDotMydomain = appendDotMydomain
        self.swapBangpath = swapBangpath
        self.allowPercentHack = allowPercentHack
        self.origin = origin
        self.domain = domain
    }

    /// The "local" context: $myorigin and $mydomain.
    public init(configuration c: Configuration) throws(ConfigError) {
        self.init(appendAtMyorigin: try c.bool("append_at_myorigin"), appendDotMydomain: try c.bool("append_dot_mydomain"),
                  swapBangpath: try c.bool("swap_bangpath"), allowPercentHack: try c.bool("allow_percent_hack"),
                  origin: try c.string("myorigin").trimmingWhitespace(), domain: try c.string("mydomain").trimmingWhitespace())
    }

    /// The "remote" context: Postfix completes both forms with remote_header_rewrite_domain.
    public func remote(_ remoteDomain: String) -> AddressQualifier {
        var q = self
        q.origin = remoteDomain
        q.domain = remoteDomain
        return q
    }

    public func rewrite(_ mailbox: Mailbox) -> Mailbox {
        var m = mailbox
        if m.isNull { return m }
        // A lone "@": the null address.
        if m.localPart.isEmpty, m.domain == "", m.route.isEmpty { m.domain = nil; return m }
        m.route = []
        if m.domain == nil {
            // A local part that is not a dot-atom was quoted; its ! and % are not operators.
            let bare = Mailbox.isDotAtom(m.localPart)
            if swapBangpath, bare, let bang = m.localPart.firstIndex(of: "!") {
                m.domain = String(m.localPart[..<bang])
                m.localPart = String(m.localPart[m.localPart.index(after: bang)...])
            } else if allowPercentHack, bare, let percent = m.localPart.lastIndex(of: "%") {
                m.domain = String(m.localPart[m.localPart.index(after: percent)...])
                m.localPart = String(m.localPart[..<percent])
            } else if appendAtMyorigin, !origin.isEmpty {
                m.domain = origin
            }
        }
        if appendDotMydomain, !domain.isEmpty, let d = m.domain, !d.isEmpty, !d.hasPrefix("["), !d.contains(".") {
            m.domain = d + "." + domain
        }
        // One trailing dot goes, but not from "..", nor a domain that is only ".".
        if let d = m.domain, d.count > 1, d.hasSuffix("."), !d.hasSuffix("..") {
            m.domain = String(d.dropLast())
        }
        return m
    }
}

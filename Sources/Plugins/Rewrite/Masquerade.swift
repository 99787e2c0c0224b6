import Pipeline

/// Address masquerading as cleanup(8) does it (`masquerade_domains`, `masquerade_exceptions`):
/// a subdomain of a listed domain is replaced by that domain, so `user@host.example.com`
/// becomes `user@example.com` with `masquerade_domains = example.com`.
///
/// Domains are tried in the order listed and the first that applies ends the search: the
/// domain itself (left alone), a parent (replaced), or a parent written `!parent` (left alone,
/// which exempts a subdomain listed before its parent). Users listed in
/// `masquerade_exceptions` are never masqueraded.
public struct Masquerade: Sendable, Equatable {
    public let domains: [String]
    public let exceptions: Set<String>

    public init(domains: [String], exceptions: [String] = []) {
        self.domains = domains
        self.exceptions = Set(exceptions.map { $0.lowercased() })
    }

    public var isEmpty: Bool { domains.isEmpty }

    /// The domain `domain` masquerades as, or nil when it stays.
    public func masquerade(local: String, domain: String) -> String? {
        if exceptions.contains(local.lowercased()) { return nil }
        let d = domain.lowercased()
        for entry in domains {
            var masq = Substring(entry)
            var truncate = true
            while masq.first == "!" { masq = masq.dropFirst(); truncate.toggle() }
            if masq.isEmpty { continue }
            let m = masq.lowercased()
            if m.count == d.count {
                if m == d { return nil }
            } else if m.count < d.count, d.hasSuffix("." + m) {
                return truncate ? String(masq) : nil
            }
        }
        return nil
    }

    public func rewrite(_ mailbox: Mailbox) -> Mailbox {
        guard let domain = mailbox.domain, !mailbox.isNull, let new = masquerade(local: mailbox.localPart, domain: domain) else {
            return mailbox
        }
        var m = mailbox
        m.domain = new
        return m
    }
}

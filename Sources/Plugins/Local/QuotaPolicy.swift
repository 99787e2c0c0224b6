import Pipeline

/// Who may store how much: Maildir++ quotas from `quota_maps` / `quota_default`, and
/// Postfix's `mailbox_size_limit` for mbox files and single Maildir messages.
///
/// Over quota answers 452 4.2.2 (Postfix retries; the user may clean up) unless
/// `quota_full_tempfail = no`, which answers 552 5.2.2 (Postfix bounces at once).
public struct QuotaPolicy: Sendable {
    let tables: TableList
    let defaultLimit: QuotaLimit
    let recipientDelimiter: String
    public let sizeLimit: Int
    /// The status an over-quota delivery gets.
    public let exceeded: DeliveryStatus

    public init(configuration config: Configuration) throws(ConfigError) {
        tables = try TableRegistry.configured(config).openList(config, "quota_maps")
        let text = try config.string("quota_default").trimmingWhitespace()
        if text.isEmpty {
            defaultLimit = QuotaLimit()
        } else {
            guard let limit = QuotaLimit(parsing: text) else {
                throw config.error("quota_default", "bad quota_default \"\(text)\"; expected a size such as 100M, or storage=1G messages=5000")
            }
            defaultLimit = limit
        }
        recipientDelimiter = try config.string("recipient_delimiter")
        sizeLimit = try config.size("mailbox_size_limit")
        exceeded = try config.bool("quota_full_tempfail")
            ? DeliveryStatus(.mailboxFull, "Mailbox full: quota exceeded")
            : DeliveryStatus(.init(5, 2, 2), "Mailbox full: quota exceeded")
    }

    /// The quota for a recipient: its address (Postfix's order: user+ext@domain, user@domain,
    /// @domain), then the user's name, then the default. A table that cannot answer throws.
    public func limit(address: String, user: String?) throws(DeliveryStatus) -> QuotaLimit {
        do {
            var value = try tables.lookupAddress(address, recipientDelimiter: recipientDelimiter)
            if value == nil, let user { value = try tables.lookup(user.lowercased()) }
            guard let value else { return defaultLimit }
            guard let limit = QuotaLimit(parsing: value) else {
                throw DeliveryStatus(.configurationError, "configuration error",
                                     reason: "quota_maps: bad quota \"\(value)\" for \(address); expected a size such as 100M, or storage=1G messages=5000")
            }
            return limit
        } catch let e as TableError {
            throw DeliveryStatus(.temporaryFailure, "Temporary lookup failure", reason: "quota_maps: \(e)")
        } catch let s as DeliveryStatus {
            throw s
        } catch {
            throw .unexpected(error, while: "looking up a quota")
        }
    }

    /// The Maildir++ quota of a Maildir, or nil when the recipient has none.
    public func maildirQuota(root: String, address: String, user: String?) throws(DeliveryStatus) -> MaildirQuota? {
        let limit = try limit(address: address, user: user)
        return limit.isUnlimited ? nil : MaildirQuota(root: root, limit: limit)
    }
}

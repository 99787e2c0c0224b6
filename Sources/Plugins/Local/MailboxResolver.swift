#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// Where one recipient's mail goes, and as whom it is written.
public struct MailboxTarget: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A user from passwd; the mailbox is `home_mailbox` under the home directory.
        case system
        /// A virtual(8) mailbox: path from `virtual_mailbox_maps`, IDs from the uid/gid maps.
        case virtual
    }

    public var kind: Kind
    /// The user name (system) or the address (virtual), for messages.
    public var owner: String
    public var uid: uid_t
    public var gid: gid_t
    /// The mailbox: a Maildir directory (its trailing '/' removed) or an mbox file.
    public var path: String
    /// Maildir (the path ended in '/') or mbox.
    public var format: MailboxFormat
    /// For a system user: the passwd entry (used to switch to the user).
    public var user: LocalUser?
}

/// How a mailbox is stored, decided as Postfix decides it: a path ending in `/` is a Maildir,
/// anything else an mbox file.
public enum MailboxFormat: Sendable, Equatable { case maildir, mbox }

/// Finds a recipient's mailbox the way Postfix does: virtual(8) for `virtual_mailbox_domains`,
/// local(8) users from passwd otherwise. Map results are validated before they touch a path.
public struct MailboxResolver: Sendable {
    let virtualDomains: [String]
    let virtualDomainTables: TableList
    let base: String
    let mailboxMaps: TableList
    let uidMaps: TableList
    let gidMaps: TableList
    let minimumUID: Int
    let homeMailbox: String
    let mailSpoolDirectory: String
    let recipientDelimiter: String

    public init(_ config: Configuration, tables: TableRegistry? = nil) throws(ConfigError) {
        let registry: TableRegistry
        if let given = tables { registry = given } else { registry = try TableRegistry.configured(config) }
        var names: [String] = []
        var domainTables: [any LookupTable] = []
        for item in TableRegistry.splitTableList(try config.string("virtual_mailbox_domains")) {
            if registry.isTable(item) {
                domainTables.append(try registry.open(item))
            } else {
                names.append(item.lowercased())
            }
        }
        virtualDomains = names
        virtualDomainTables = TableList(domainTables)
        base = try config.string("virtual_mailbox_base")
        mailboxMaps = try registry.openList(config, "virtual_mailbox_maps")
        uidMaps = try registry.openList(config, "virtual_uid_maps")
        gidMaps = try registry.openList(config, "virtual_gid_maps")
        minimumUID = try config.integer("virtual_minimum_uid")
        homeMailbox = try config.string("home_mailbox")
        mailSpoolDirectory = try config.string("mail_spool_directory")
        recipientDelimiter = try config.string("recipient_delimiter")
        if !virtualDomains.isEmpty || !virtualDomainTables.isEmpty {
            if mailboxMaps.isEmpty { throw config.error("virtual_mailbox_maps", "virtual_mailbox_domains is set but virtual_mailbox_maps is empty; expected a table of address → mailbox path") }
            if uidMaps.isEmpty { throw config.error("virtual_uid_maps", "virtual_mailbox_domains is set but virtual_uid_maps is empty; expected for example static:5000") }
            if gidMaps.isEmpty { throw config.error("virtual_gid_maps", "virtual_mailbox_domains is set but virtual_gid_maps is empty; expected for example static:5000") }
        }
        if homeMailbox.hasPrefix("/") || homeMailbox.split(separator: "/").contains("..") {
            throw config.error("home_mailbox", "home_mailbox = \(homeMailbox): expected a path relative to the home directory, without '..'")
        }
    }

    /// Whether `address` is in a virtual mailbox domain.
    public func isVirtual(_ address: String) throws(TableError) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return false }
        let domain = address[address.index(after: at)...].lowercased()
        if virtualDomains.contains(domain) { return true }
        return try virtualDomainTables.lookup(domain) != nil
    }

    /// The virtual mailbox of `address`.
    /// - Throws: ``DeliveryStatus``: 5.1.1 when the address has no mailbox, 4.3.0 when a table
    ///   cannot answer, 4.3.5 when a map gives an unusable result.
    public func virtualMailbox(_ address: String) throws(DeliveryStatus) -> MailboxTarget {
        let path: String
        let uidText: String
        let gidText: String
        do {
            guard let p = try mailboxMaps.lookupAddress(address, recipientDelimiter: recipientDelimiter) else {
                throw DeliveryStatus(.unknownUser, "unknown user: \"\(address)\"")
            }
            guard let u = try uidMaps.lookupAddress(address, recipientDelimiter: recipientDelimiter, field: .uid),
                  let g = try gidMaps.lookupAddress(address, recipientDelimiter: recipientDelimiter, field: .gid) else {
                throw DeliveryStatus(.configurationError, "mail system configuration error",
                                     reason: "no virtual_uid_maps or virtual_gid_maps entry for \(address)")
            }
            (path, uidText, gidText) = (p, u, g)
        } catch let e as TableError {
            throw DeliveryStatus(.temporaryFailure, "table lookup failure", reason: "table lookup failure: \(e)")
        } catch let s as DeliveryStatus {
            throw s
        } catch {
            throw .unexpected(error, while: "looking up the mailbox")
        }
        guard let uid = UInt32(uidText.trimmingWhitespace()), let gid = UInt32(gidText.trimmingWhitespace()) else {
            throw DeliveryStatus(.configurationError, "mail system configuration error",
                                 reason: "bad virtual uid/gid for \(address): \"\(uidText)\"/\"\(gidText)\"; expected numbers")
        }
        guard Int(uid) >= minimumUID else {
            throw DeliveryStatus(.configurationError, "mail system configuration error",
                                 reason: "virtual uid \(uid) for \(address) is below virtual_minimum_uid \(minimumUID)")
        }
        try MailboxResolver.checkPath(path, for: address)
        let format: MailboxFormat = path.hasSuffix("/") ? .maildir : .mbox
        var full = base.isEmpty ? path : (base.hasSuffix("/") ? base : base + "/") + path
        while full.count > 1 && full.hasSuffix("/") { full.removeLast() }
        guard full.hasPrefix("/") else {
            throw DeliveryStatus(.configurationError, "mail system configuration error",
                                 reason: "virtual mailbox \(full) for \(address) is not an absolute path; set virtual_mailbox_base")
        }
        return MailboxTarget(kind: .virtual, owner: address, uid: uid, gid: gid, path: full, format: format, user: nil)
    }

    /// A system user's Maildir: `home_mailbox` under the home directory.
    public func systemMailbox(_ user: LocalUser) throws(DeliveryStatus) -> MailboxTarget {
        guard user.home.hasPrefix("/") else {
            throw DeliveryStatus(.temporaryFailure, "user \(user.name) has no usable home directory")
        }
        // Postfix's local(8): an empty home_mailbox means the spool, mail_spool_directory/USER
        // (a trailing '/' on the spool directory means a Maildir there).
        if homeMailbox.isEmpty {
            let spool = mailSpoolDirectory.hasSuffix("/") ? String(mailSpoolDirectory.dropLast()) : mailSpoolDirectory
            return MailboxTarget(kind: .system, owner: user.name, uid: user.uid, gid: user.gid, path: spool + "/" + user.name,
                                 format: mailSpoolDirectory.hasSuffix("/") ? .maildir : .mbox, user: user)
        }
        let home = user.home.hasSuffix("/") ? String(user.home.dropLast()) : user.home
        var path = home + "/" + homeMailbox
        let format: MailboxFormat = homeMailbox.hasSuffix("/") ? .maildir : .mbox
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return MailboxTarget(kind: .system, owner: user.name, uid: user.uid, gid: user.gid, path: path, format: format, user: user)
    }

    /// A map result must be a plain relative path: no `..` level, no control characters.
    static func checkPath(_ path: String, for address: String) throws(DeliveryStatus) {
        let bad = path.isEmpty
            || path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            || path.split(separator: "/", omittingEmptySubsequences: false).contains("..")
        if bad {
            throw DeliveryStatus(.configurationError, "mail system configuration error",
                                 reason: "unsafe virtual mailbox path \"\(path)\" for \(address)")
        }
    }
}

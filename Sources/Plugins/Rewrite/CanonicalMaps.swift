import Pipeline

/// canonical(5) lookups as cleanup(8) does them, for one of `canonical_maps`,
/// `sender_canonical_maps` or `recipient_canonical_maps`.
///
/// Keys are tried in Postfix's order, each key in every table before the next key:
/// `user+ext@domain`, `user@domain`, then — only when the domain is local ($myorigin or
/// $mydestination) — `user+ext` and `user`, then `@domain`. Keys are lower-cased, except for
/// `pcre:` tables, which see only the whole address as written (canonical(5), "REGULAR
/// EXPRESSION TABLES").
///
/// A result `@otherdomain` keeps the user; an extension matched without it is put back into
/// the result when `propagate_unmatched_extensions` names `canonical`. A result is looked up
/// again, up to ``maxNesting`` times, until it maps to itself. A result with a line break is
/// refused (logged, address unchanged): a map must not inject header lines.
public struct CanonicalMaps: Sendable {
    public let tables: TableList
    public let recipientDelimiter: String
    public let localDomains: Set<String>
    public let propagateExtensions: Bool

    /// How many times a result is looked up again (Postfix's MAX_RECURSION in cleanup_map11.c).
    public static let maxNesting = 10

    public init(tables: TableList, recipientDelimiter: String = "", localDomains: Set<String> = [],
                propagateExtensions: Bool = true) {
        self.tables = tables
        self.recipientDelimiter = recipientDelimiter
        self.localDomains = Set(localDomains.map { $0.lowercased() })
        self.propagateExtensions = propagateExtensions
    }

    public var isEmpty: Bool { tables.isEmpty }

    /// What went wrong with a map's answer; the address is left as it was.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The mapped mailbox, or the same one when no table answers. Throws ``TableError`` when a
    /// table cannot answer, and a ``DeliveryStatus`` (4.3.0) for a mapping loop.
    /// `hit` hears each table that answered and the key it answered (for `mdad trace`).
    public func rewrite(_ mailbox: Mailbox, log: (String) -> Void = { _ in },
                        hit: (_ table: String, _ key: String) -> Void = { _, _ in }) throws -> Mailbox {
        if mailbox.isNull || tables.isEmpty { return mailbox }
        var current = mailbox
        for _ in 0..<Self.maxNesting {
            guard let next = try lookupOnce(current, log: log, hit: hit) else { return current }
            if next.localPart.lowercased() == current.localPart.lowercased(),
               next.domain?.lowercased() == current.domain?.lowercased() {
                return current
            }
            current.localPart = next.localPart
            current.domain = next.domain
        }
        throw DeliveryStatus(.temporaryFailure, "temporary failure in address rewriting",
                             reason: "unreasonable canonical map nesting for \(mailbox.address)")
    }

    /// One lookup: the new local part and domain, or nil when no table answers (or the answer
    /// was refused).
    func lookupOnce(_ m: Mailbox, log: (String) -> Void,
                    hit: (_ table: String, _ key: String) -> Void = { _, _ in }) throws(TableError) -> (localPart: String, domain: String?)? {
        let local = m.localPart
        let domain = m.domain
        let full = domain.map { local + "@" + $0 } ?? local
        var base = local
        var ext = ""
        if !recipientDelimiter.isEmpty, let cut = local.firstIndex(where: { recipientDelimiter.contains($0) }),
           cut != local.startIndex {
            base = String(local[..<cut])
            ext = String(local[cut...])
        }
        // (key, whether the extension was left out of it)
        var keys: [(String, Bool)] = [(full, false)]
        if let domain {
            if !ext.isEmpty { keys.append((base + "@" + domain, true)) }
            if localDomains.contains(domain.lowercased()) {
                if !ext.isEmpty { keys.append((local, false)) }
                keys.append((base, !ext.isEmpty))
            }
            keys.append(("@" + domain, !ext.isEmpty))
        } else if !ext.isEmpty {
            keys.append((base, true))
        }
        for (k, (key, stripped)) in keys.enumerated() {
            for table in tables.tables {
                let answer: String?
                if table is PCRETable {
                    guard k == 0 else { continue }
                    answer = try table.lookup(key)
                } else {
                    answer = try table.lookup(key.lowercased())
                }
                guard let answer else { continue }
                hit(table.name, key)
                return result(answer, base: base, ext: stripped && propagateExtensions ? ext : "", table: table.name,
                              key: key, log: log)
            }
        }
        return nil
    }

    func result(_ answer: String, base: String, ext: String, table: String, key: String,
                log: (String) -> Void) -> (localPart: String, domain: String?)? {
        if answer.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) {
            log("\(table): result for \(key) contains a line break or NUL; address left unchanged")
            return nil
        }
        // Most answers are one address; only a list needs splitting.
        let parts = answer.utf8.contains(where: { $0 == 44 || $0 == 32 || $0 == 9 })
            ? Configuration.splitList(answer) : [answer]
        guard let first = parts.first else { return nil }
        if parts.count > 1 { log("\(table): multi-valued canonical entry for \(key); using the first") }
        var text = first
        if text.hasPrefix("@") { text = Mailbox(localPart: base, domain: nil).address + text }
        guard let mapped = AddressList.parse(text).mailboxes.first, !mapped.localPart.isEmpty || mapped.domain != nil else {
            log("\(table): result \"\(first)\" for \(key) is not an address; address left unchanged")
            return nil
        }
        return (mapped.localPart + ext, mapped.domain)
    }
}

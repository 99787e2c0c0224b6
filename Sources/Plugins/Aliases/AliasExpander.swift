import Pipeline

/// Where an alias expansion ends: what local(8) would do for each final recipient.
public enum AliasTarget: Sendable, Equatable {
    /// A local user's mailbox (the local part, extension kept: `alice+news`).
    case mailbox(String)
    /// A remote address, handed to the outbound action.
    case forward(String)
    /// `|command`, with the alias that named it (policy and environment need it).
    case command(String, alias: String)
    /// `/file/name` (mbox) or `/dir/` (Maildir), with the alias that named it.
    case file(String, alias: String)
}

/// The result of expanding one recipient.
public struct AliasExpansion: Sendable, Equatable {
    public var targets: [AliasTarget]
    /// `owner-NAME@domain` when the list NAME has an owner: errors for this expansion go there.
    public var errorsTo: String?
}

/// Alias expansion as Postfix's local(8) does it, for the `aliases` stage and the LMTP server.
///
/// A local name is looked up as `name+ext`, then `name` (with `recipient_delimiter`); its value
/// is a list of local names, remote addresses, `|commands`, `/files` and `:include:/files`,
/// expanded recursively. A name met again inside its own expansion is delivered to its mailbox
/// (`root: root, backup` reaches root's mailbox and backup) rather than expanded forever;
/// duplicates are removed; depth and result count are bounded; a missing `:include:` file or a
/// table that cannot answer defers (4.3.0) — nothing is dropped.
public struct AliasExpander: Sendable {
    public struct Limits: Sendable {
        public var depth: Int
        public var results: Int
        public var includeSize: Int
        public init(depth: Int = 100, results: Int = 1000, includeSize: Int = 1 << 20) {
            self.depth = depth
            self.results = results
            self.includeSize = includeSize
        }
    }

    let tables: TableList
    let localDomains: Set<String>
    let recipientDelimiter: String
    let myorigin: String
    let limits: Limits
    let readInclude: @Sendable (String) throws -> [UInt8]

    public init(tables: TableList, localDomains: [String], recipientDelimiter: String, myorigin: String,
                limits: Limits = Limits(),
                readInclude: @escaping @Sendable (String) throws -> [UInt8] = { try Posix.readFile($0, limit: 1 << 20) }) {
        self.tables = tables
        self.localDomains = Set(localDomains.map { $0.lowercased() })
        self.recipientDelimiter = recipientDelimiter
        self.myorigin = myorigin
        self.limits = limits
        self.readInclude = readInclude
    }

    /// The local part when `address` is local (no domain, or a domain in `localDomains`).
    func localPart(_ address: String) -> String? {
        guard let at = address.lastIndex(of: "@") else { return address }
        let domain = address[address.index(after: at)...].lowercased()
        return localDomains.contains(domain) ? String(address[..<at]) : nil
    }

    /// The value for a local name: `name+ext`, then `name`.
    func lookup(_ name: String) throws(DeliveryStatus) -> (key: String, value: String)? {
        let lower = name.lowercased()
        do {
            if let v = try tables.lookup(lower) { return (lower, v) }
            if !recipientDelimiter.isEmpty, let cut = lower.firstIndex(where: { recipientDelimiter.contains($0) }),
               cut != lower.startIndex {
                let base = String(lower[..<cut])
                if let v = try tables.lookup(base) { return (base, v) }
            }
            return nil
        } catch {
            throw DeliveryStatus(.temporaryFailure, "alias database unavailable", reason: "alias lookup of \(name): \(error)")
        }
    }

    public func expand(_ address: String) throws(DeliveryStatus) -> AliasExpansion {
        var targets: [AliasTarget] = []
        var seen = Set<String>()
        var errorsTo: String?
        if let local = localPart(address), let owner = try lookup("owner-" + local), owner.value != "" {
            errorsTo = "\(owner.key)@\(myorigin)"
        }
        try expandName(address, stack: [], depth: 0, into: &targets, seen: &seen, alias: nil)
        return AliasExpansion(targets: targets, errorsTo: errorsTo)
    }

    func add(_ t: AliasTarget, _ targets: inout [AliasTarget], _ seen: inout Set<String>) throws(DeliveryStatus) {
        let key: String
        switch t {
        case .mailbox(let n): key = "m:" + n.lowercased()
        case .forward(let a): key = "f:" + a.lowercased()
        case .command(let c, _): key = "c:" + c
        case .file(let f, _): key = "p:" + f
        }
        guard seen.insert(key).inserted else { return }
        guard targets.count < limits.results else {
            throw DeliveryStatus(.temporaryFailure, "alias expansion limit exceeded",
                                 reason: "more than \(limits.results) recipients from one alias expansion")
        }
        targets.append(t)
    }

    func expandName(_ address: String, stack: [String], depth: Int, into targets: inout [AliasTarget],
                    seen: inout Set<String>, alias: String?) throws(DeliveryStatus) {
        guard let local = localPart(address) else {
            try add(.forward(address), &targets, &seen)
            return
        }
        guard depth <= limits.depth else {
            throw DeliveryStatus(.temporaryFailure, "alias expansion too deep",
                                 reason: "alias expansion deeper than \(limits.depth) at \(address)")
        }
        guard let (key, value) = try lookup(local), !stack.contains(key) else {
            // Not an alias, or met again inside its own expansion: the mailbox itself.
            try add(.mailbox(local.lowercased()), &targets, &seen)
            return
        }
        try expandValue(value, name: key, stack: stack + [key], depth: depth + 1, into: &targets, seen: &seen)
    }

    func expandValue(_ value: String, name: String, stack: [String], depth: Int, into targets: inout [AliasTarget],
                     seen: inout Set<String>) throws(DeliveryStatus) {
        for item in AliasExpander.items(value) {
            if item.hasPrefix("|") {
                try add(.command(String(item.dropFirst()), alias: name), &targets, &seen)
            } else if item.lowercased().hasPrefix(":include:") {
                let path = String(item.dropFirst(9)).trimmingWhitespace()
                let bytes: [UInt8]
                do {
                    bytes = try readInclude(path)
                } catch {
                    throw DeliveryStatus(.temporaryFailure, "cannot open include file",
                                         reason: "alias \(name): cannot open :include: file \(path): \(error)")
                }
                guard bytes.count <= limits.includeSize else {
                    throw DeliveryStatus(.temporaryFailure, "include file too large", reason: "alias \(name): \(path) is larger than \(limits.includeSize) bytes")
                }
                // An include file lists values one or several per line, comma-separated.
                let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
                    .filter { !$0.trimmingWhitespace().hasPrefix("#") }.joined(separator: ",")
                try expandValue(text, name: name, stack: stack, depth: depth + 1, into: &targets, seen: &seen)
            } else if item.hasPrefix("/") {
                try add(.file(item, alias: name), &targets, &seen)
            } else {
                try expandName(item, stack: stack, depth: depth, into: &targets, seen: &seen, alias: name)
            }
        }
    }

    /// Splits an alias value into items (``AliasesFile/valueItems(_:)``).
    public static func items(_ value: String) -> [String] { AliasesFile.valueItems(value) }
}

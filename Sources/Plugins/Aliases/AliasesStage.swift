#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The `aliases` stage: virtual(5) aliasing, aliases(5) expansion and `.forward`, as Postfix's
/// cleanup and local(8) do them, turning each recipient into its final recipients.
///
/// - `virtual_alias_maps` first, for any domain: an address maps to a list of addresses,
///   recursively (an address that maps to itself stays).
/// - Then, for local domains (`mydestination`), `alias_maps` through ``AliasExpander``: local
///   users, remote forwards, `|commands`, `/files`, `:include:` lists.
/// - Then each local user's `forward_path` file (`~/.forward`): `\user` keeps the mail in the
///   user's own mailbox, addresses are forwarded, commands and files run as the user.
///
/// Every final recipient keeps the original recipient (`orig_to`) and its envelope index. A
/// failed lookup defers that recipient (4.3.0); nothing is dropped.
public struct AliasesStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("virtual_alias_maps", .string, default: "",
              "Tables that map addresses in any domain to other addresses (virtual(5)), tried before alias_maps."),
        .init("allow_mail_to_commands", .list, default: "alias, forward",
              "Where |command deliveries are allowed: alias (aliases files), forward (.forward files), include (:include: files)."),
        .init("allow_mail_to_files", .list, default: "alias, forward",
              "Where /file/name deliveries are allowed: alias, forward, include."),
        .init("default_privs", .string, default: "nobody",
              "The user that commands and files named in aliases files run as."),
        .init("forward_path", .string, default: "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
              "The .forward files looked for, in order; $home, $user, $extension and $recipient_delimiter are expanded."),
    ]

    public struct Limits: Sendable {
        public var virtualDepth = 100
        public var results = 1000
        public init() {}
    }

    let virtualAliases: TableList
    let expander: AliasExpander
    let localDomains: Set<String>
    let recipientDelimiter: String
    let myorigin: String
    let allowCommands: Set<String>
    let allowFiles: Set<String>
    let defaultPrivs: String
    let forwardPath: [String]
    let limits: Limits
    /// Addresses in `virtual_mailbox_domains` are delivered here, not forwarded.
    let mailboxes: MailboxResolver

    public init(configuration config: Configuration, limits: Limits = Limits()) throws(ConfigError) {
        let tables = try TableRegistry.configured(config)
        virtualAliases = try tables.openList(config, "virtual_alias_maps")
        recipientDelimiter = try config.string("recipient_delimiter")
        myorigin = try config.string("myorigin")
        let domains = try config.list("mydestination")
        localDomains = Set(domains.map { $0.lowercased() })
        expander = AliasExpander(tables: try tables.openList(config, "alias_maps"), localDomains: domains,
                                 recipientDelimiter: recipientDelimiter, myorigin: myorigin)
        allowCommands = Set(try config.list("allow_mail_to_commands").map { $0.lowercased() })
        allowFiles = Set(try config.list("allow_mail_to_files").map { $0.lowercased() })
        defaultPrivs = try config.string("default_privs")
        // $home, $user and $extension are local(8)'s own, expanded per recipient, not main.cf's.
        forwardPath = TableRegistry.splitTableList(config.rawValue("forward_path") ?? "")
        self.limits = limits
        mailboxes = try MailboxResolver(config)
    }

    /// Whether `address` is something this stage would expand (an alias or a virtual alias):
    /// the LMTP server accepts such recipients at RCPT time.
    public func isAlias(_ address: String) throws(DeliveryStatus) -> Bool {
        do {
            if try virtualAliases.lookupAddress(address, recipientDelimiter: recipientDelimiter) != nil { return true }
        } catch {
            throw DeliveryStatus(.temporaryFailure, "virtual alias table unavailable", reason: "\(error)")
        }
        guard let local = expander.localPart(address) else { return false }
        return try expander.lookup(local) != nil
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        var out: [Recipient] = []
        var seen = Set<String>()
        for r in transaction.recipients {
            guard r.isPending else { out.append(r); continue }
            do {
                let finals = try expand(r, logger: context)
                if transaction.tracing, finals.count != 1 || finals[0].address != r.address || finals[0].actions != r.actions {
                    let parts = finals.map { f in
                        f.actions.isEmpty ? "<\(f.address)>" : "<\(f.address)> (\(f.actions.map(\.description).joined(separator: ", ")))"
                    }
                    transaction.trace(.recipient, "expands to \(parts.isEmpty ? "nothing" : parts.joined(separator: ", "))",
                                      recipient: r.address)
                }
                for final in finals {
                    // Duplicates go once (Postfix's duplicate filter), by what they do, within
                    // one envelope recipient (each RCPT is a delivery of its own).
                    let key = "\(final.envelopeIndex)|\(final.address.lowercased())|\(final.actions)"
                    if seen.insert(key).inserted { out.append(final) }
                }
            } catch {
                var deferred = r
                deferred.defer(error)
                out.append(deferred)
            }
        }
        guard out.count <= max(limits.results, transaction.recipients.count) else {
            transaction.deferAll(DeliveryStatus(.temporaryFailure, "alias expansion limit exceeded",
                                                reason: "more than \(limits.results) recipients after alias expansion"))
            return .stop
        }
        transaction.recipients = out
        return .continue
    }

    /// The final recipients for one recipient.
    func expand(_ r: Recipient, logger context: StageContext) throws(DeliveryStatus) -> [Recipient] {
        var results: [Recipient] = []
        for address in try virtualExpand(r.address, depth: 0, stack: []) {
            guard expander.localPart(address) != nil else {
                // A virtual mailbox is delivered here; any other address is forwarded.
                let here = address == r.address || (try? mailboxes.isVirtual(address)) == true
                var d = derived(r, address: address, actions: here ? r.actions : [.redirect(to: address, sender: nil)])
                if here && address != r.address { d.user = nil }
                results.append(d)
                continue
            }
            let expansion = try expander.expand(address)
            for target in expansion.targets {
                switch target {
                case .mailbox(let name):
                    results += try forwardExpand(r, name: name, address: qualify(name, like: address))
                case .forward(let to):
                    if (try? mailboxes.isVirtual(to)) == true {
                        var d = derived(r, address: to, actions: r.actions)
                        d.user = nil
                        results.append(d)
                    } else {
                        results.append(derived(r, address: to, actions: [.redirect(to: to, sender: expansion.errorsTo)]))
                    }
                case .command(let command, let alias):
                    guard allowCommands.contains("alias") else { throw Self.refused("commands", alias: alias) }
                    var c = derived(r, address: r.address, actions: [.pipe(command: command)])
                    c.user = defaultPrivs
                    results.append(c)
                case .file(let path, let alias):
                    guard allowFiles.contains("alias") else { throw Self.refused("files", alias: alias) }
                    var f = derived(r, address: r.address, actions: [.file(path: path, format: path.hasSuffix("/") ? .maildir : .mbox)])
                    f.user = defaultPrivs
                    results.append(f)
                }
            }
        }
        return results
    }

    static func refused(_ what: String, alias: String) -> DeliveryStatus {
        DeliveryStatus(.init(5, 7, 1), "mail to \(what) is restricted",
                       reason: "alias \(alias): mail to \(what) is not allowed by allow_mail_to_\(what)")
    }

    /// A final recipient made from `r`: same origin, same header additions.
    func derived(_ r: Recipient, address: String, actions: [RecipientAction]) -> Recipient {
        var d = r
        d.address = address
        d.originalAddress = r.originalAddress ?? r.address
        d.actions = actions
        return d
    }

    func qualify(_ name: String, like address: String) -> String {
        if let at = address.lastIndex(of: "@") { return name + address[at...] }
        return "\(name)@\(myorigin)"
    }

    /// virtual(5): `address` → its aliases, recursively; an address that maps to itself, or
    /// to nothing, stays.
    func virtualExpand(_ address: String, depth: Int, stack: Set<String>) throws(DeliveryStatus) -> [String] {
        guard !virtualAliases.isEmpty else { return [address] }
        guard depth < limits.virtualDepth else {
            throw DeliveryStatus(.temporaryFailure, "virtual alias expansion too deep",
                                 reason: "virtual alias expansion of \(address) deeper than \(limits.virtualDepth)")
        }
        let value: String?
        do {
            value = try virtualAliases.lookupAddress(address, recipientDelimiter: recipientDelimiter)
        } catch {
            throw DeliveryStatus(.temporaryFailure, "virtual alias table unavailable", reason: "\(error)")
        }
        guard let value, !stack.contains(address.lowercased()) else { return [address] }
        var out: [String] = []
        for item in AliasesFile.valueItems(value) {
            let next = item.contains("@") ? item : "\(item)@\(myorigin)"
            if next.lowercased() == address.lowercased() {
                out.append(address)
            } else {
                out += try virtualExpand(next, depth: depth + 1, stack: stack.union([address.lowercased()]))
            }
            if out.count > limits.results {
                throw DeliveryStatus(.temporaryFailure, "virtual alias expansion limit exceeded",
                                     reason: "virtual alias expansion of \(address) gave more than \(limits.results) addresses")
            }
        }
        return out
    }

    /// A local user's mailbox, or what their .forward says instead.
    func forwardExpand(_ r: Recipient, name: String, address: String) throws(DeliveryStatus) -> [Recipient] {
        var mailbox = derived(r, address: address, actions: r.actions)
        let base = recipientDelimiter.isEmpty ? name : String(name.prefix { !recipientDelimiter.contains($0) })
        mailbox.user = base
        guard !forwardPath.isEmpty, let user = (try? LocalUser.lookup(name: base)) ?? nil else { return [mailbox] }
        let ext = base.count < name.count ? String(name.dropFirst(base.count + 1)) : ""
        for template in forwardPath {
            let path = Self.expandForwardPath(template, home: user.home, user: user.name, extension: ext,
                                              delimiter: ext.isEmpty ? "" : String(name[name.index(name.startIndex, offsetBy: base.count)]))
            guard !path.isEmpty, path.hasPrefix("/") else { continue }
            guard let text = try readForward(path, owner: user) else { continue }
            var out: [Recipient] = []
            for item in AliasesFile.valueItems(text.split(separator: "\n").filter { !$0.trimmingWhitespace().hasPrefix("#") }.joined(separator: ",")) {
                if item.hasPrefix("\\") {
                    out.append(mailbox)
                } else if item.hasPrefix("|") {
                    guard allowCommands.contains("forward") else { throw Self.refused("commands", alias: path) }
                    out.append(derived(mailbox, address: address, actions: [.pipe(command: String(item.dropFirst()))]))
                } else if item.hasPrefix("/") {
                    guard allowFiles.contains("forward") else { throw Self.refused("files", alias: path) }
                    out.append(derived(mailbox, address: address, actions: [.file(path: item, format: item.hasSuffix("/") ? .maildir : .mbox)]))
                } else if item.lowercased() == address.lowercased() || item.lowercased() == base.lowercased() {
                    out.append(mailbox)
                } else {
                    let to = item.contains("@") ? item : "\(item)@\(myorigin)"
                    var f = derived(mailbox, address: to, actions: [.redirect(to: to, sender: nil)])
                    f.user = base
                    out.append(f)
                }
            }
            return out.isEmpty ? [mailbox] : out
        }
        return [mailbox]
    }

    /// The .forward file's text; nil when there is none. One that another user could have
    /// written (not owned by the user or root, or group/world writable) is refused, as
    /// Postfix's local(8) refuses it; an unreadable one defers.
    func readForward(_ path: String, owner: LocalUser) throws(DeliveryStatus) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == owner.uid || st.st_uid == 0,
              st.st_mode & 0o022 == 0 else {
            throw DeliveryStatus(.temporaryFailure, "mail forwarding loop or insecure .forward",
                                 reason: "\(path): not a regular file owned by \(owner.name), or writable by others")
        }
        do {
            return String(decoding: try Posix.readFile(path, limit: 1 << 20), as: UTF8.self)
        } catch {
            throw DeliveryStatus(.temporaryFailure, "cannot read .forward file", reason: "\(path): \(error)")
        }
    }

    /// `$home/.forward${recipient_delimiter}${extension}`: Postfix's expansions, where
    /// `${name}` is empty unless set (so the first entry is skipped without an extension).
    static func expandForwardPath(_ template: String, home: String, user: String, extension ext: String, delimiter: String) -> String {
        let values = ["home": home, "user": user, "extension": ext, "recipient_delimiter": delimiter]
        var out = ""
        var i = template.startIndex
        var missing = false
        while i < template.endIndex {
            let c = template[i]
            guard c == "$" else { out.append(c); i = template.index(after: i); continue }
            var j = template.index(after: i)
            var name = ""
            if j < template.endIndex, template[j] == "{" {
                j = template.index(after: j)
                while j < template.endIndex, template[j] != "}" { name.append(template[j]); j = template.index(after: j) }
                if j < template.endIndex { j = template.index(after: j) }
            } else {
                while j < template.endIndex, template[j].isLetter || template[j] == "_" { name.append(template[j]); j = template.index(after: j) }
            }
            let v = values[name] ?? ""
            if v.isEmpty && (name == "extension" || name == "recipient_delimiter") { missing = true }
            out += v
            i = j
        }
        return missing ? "" : out
    }
}

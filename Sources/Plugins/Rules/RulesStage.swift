import Pipeline

/// The `rules` stage: runs each recipient's Sieve or procmail rules.
///
/// The engines come from `rules_engines`, in order; the first with a script of the user's own
/// runs it; the others get the call for their always-run scripts. A recipient whose user cannot
/// be found (no passwd entry, no virtual mailbox) keeps the implicit keep: rules never lose mail.
public struct RulesStage: RecipientStage {
    public static let parameters: [ParameterDeclaration] = [
        .init("rules_engines", .list, default: "sieve, procmail",
              "The rules engines the rules stage tries for each recipient, in order; the first with a script of the user's own runs it."),
    ]

    let engines: [(name: String, engine: any RulesEngine)]
    let resolver: MailboxResolver
    let recipientDelimiter: String

    public init(configuration config: Configuration, registry: RulesEngineRegistry) throws {
        var engines: [(String, any RulesEngine)] = []
        for name in try config.list("rules_engines") {
            guard let make = registry.factories[name] else {
                let known = registry.factories.keys.sorted().joined(separator: ", ")
                throw config.error("rules_engines", "unknown rules engine \"\(name)\"; expected one of: \(known.isEmpty ? "(none)" : known)")
            }
            engines.append((name, try make(config)))
        }
        self.engines = engines
        resolver = try MailboxResolver(config)
        recipientDelimiter = try config.string("recipient_delimiter")
    }

    public func process(_ recipient: inout Recipient, of transaction: Transaction,
                        context: StageContext) async throws -> StageVerdict {
        guard !engines.isEmpty else { return .continue }
        guard let user = try resolveUser(recipient) else {
            recipient.trace(.note, "no local or virtual user found: implicit keep, no rules", in: transaction)
            return .continue
        }
        let chosen = engines.firstIndex { $0.engine.hasUserScript(for: user) }
        recipient.trace(.match, chosen.map { "rules engine \(engines[$0].name) runs the user's script (user \(user.name))" }
                            ?? "no engine has a script for user \(user.name): only scripts that always run",
                        in: transaction)
        var verdict = StageVerdict.continue
        for (i, entry) in engines.enumerated() {
            if !recipient.isPending { break }
            if try await entry.engine.run(&recipient, of: transaction, user: user,
                                          userScript: i == chosen, context: context) == .stop {
                verdict = .stop
            }
        }
        return verdict
    }

    /// The user behind a recipient: a virtual mailbox, or the system user `recipient.user`
    /// names (or the address's local part names).
    func resolveUser(_ recipient: Recipient) throws -> RulesUser? {
        if (try? resolver.isVirtual(recipient.address)) == true {
            let target = try resolver.virtualMailbox(recipient.address)
            return RulesUser(name: recipient.address, home: nil, uid: target.uid, gid: target.gid,
                             mailbox: target, address: recipient.address, recipientDelimiter: recipientDelimiter)
        }
        let name = recipient.user ?? String(recipient.address.prefix { $0 != "@" })
        var found = try LocalUser.lookup(name: name)
        if found == nil, !recipientDelimiter.isEmpty,
           let d = name.firstIndex(where: { recipientDelimiter.contains($0) }) {
            found = try LocalUser.lookup(name: String(name[..<d]))
        }
        guard let local = found else { return nil }
        let target = try? resolver.systemMailbox(local)
        return RulesUser(name: local.name, home: local.home, uid: local.uid, gid: local.gid,
                         mailbox: target, address: recipient.address, recipientDelimiter: recipientDelimiter)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The user a recipient's rules run for: whose scripts are read, whose identity runs commands,
/// whose mailbox the implicit keep fills.
public struct RulesUser: Sendable, Equatable {
    /// The login name (system users) or the full address (virtual users).
    public var name: String
    /// The home directory; nil for a virtual user without one (per-user scripts are then found
    /// only through parameters with `%u`/`%d`, never under `~`).
    public var home: String?
    public var uid: uid_t
    public var gid: gid_t
    /// The mailbox the implicit keep stores into.
    public var mailbox: MailboxTarget?
    /// The recipient address the rules see, and its parts (`recipient_delimiter` applied):
    /// `alice+news@example.org` has local part `alice`, extension `news`, domain `example.org`.
    public var address: String
    public var localPart: String
    public var `extension`: String?
    public var domain: String

    public init(name: String, home: String?, uid: uid_t, gid: gid_t, mailbox: MailboxTarget?,
                address: String, recipientDelimiter: String) {
        self.name = name
        self.home = home
        self.uid = uid
        self.gid = gid
        self.mailbox = mailbox
        self.address = address
        let at = address.lastIndex(of: "@")
        let local = at.map { String(address[..<$0]) } ?? address
        domain = at.map { String(address[address.index(after: $0)...]) } ?? ""
        if let d = local.firstIndex(where: { recipientDelimiter.contains($0) }), !recipientDelimiter.isEmpty {
            localPart = String(local[..<d])
            `extension` = String(local[local.index(after: d)...])
        } else {
            localPart = local
            `extension` = nil
        }
    }
}

/// A rules language the `rules` stage can run (Sieve, procmail).
///
/// `rules_engines = sieve, procmail` names them in order; for each recipient the first engine
/// with a script of the user's own runs it. Engines also get a call when they are not the
/// chosen one, so an engine with global scripts that always run (Sieve's `sieve_before` and
/// `sieve_after`) can run them; an engine without such scripts does nothing then.
///
/// An engine records its outcome in the recipient: actions (store with flags, redirect, send,
/// pipe, file, discard), a reject through ``Recipient/reject(_:)``, a replaced message. It is
/// built once from the configuration, compiles scripts once and keeps them until their file
/// changes.
public protocol RulesEngine: Sendable {
    /// Whether `user` has a script of their own for this engine (or the engine's default
    /// script applies to them).
    func hasUserScript(for user: RulesUser) -> Bool

    /// Runs the engine for one recipient. `userScript` is true for the chosen engine (the
    /// user's own script runs, with any global scripts around it) and false otherwise (only
    /// scripts that always run).
    func run(_ recipient: inout Recipient, of transaction: Transaction, user: RulesUser,
             userScript: Bool, context: StageContext) async throws -> StageVerdict
}

/// The rules engines mdad knows, by the name `rules_engines` uses.
public struct RulesEngineRegistry: Sendable {
    public typealias Factory = @Sendable (Configuration) throws -> any RulesEngine
    public private(set) var factories: [String: Factory] = [:]
    /// Their parameters, registered with the `rules` stage.
    public private(set) var parameters: [ParameterDeclaration] = []

    public init() {}

    public mutating func register(_ name: String, parameters: [ParameterDeclaration] = [], make: @escaping Factory) {
        precondition(factories[name] == nil, "rules engine \(name) registered twice")
        factories[name] = make
        self.parameters += parameters
    }
}

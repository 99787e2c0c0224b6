/// What a stage asks to be done with a message for one recipient. Stages ask; the delivery
/// backends carry the actions out at the end of the chain.
public enum RecipientAction: Sendable, Equatable {
    /// Store in a mailbox folder (nil = INBOX) with IMAP flags (`\Seen`, `\Flagged`, …).
    case store(folder: String?, flags: [String])
    /// Drop the message for this recipient, successfully (Sieve `discard`, procmail `/dev/null`).
    case discard
}

/// Where a recipient stands. Every recipient has its own fate: one recipient's failure never
/// changes another's.
public enum RecipientState: Sendable, Equatable {
    /// Still going through the chain.
    case pending
    /// Refused for good (5.x.x): Postfix bounces.
    case rejected(DeliveryStatus)
    /// Failed for now (4.x.x): Postfix keeps the message and tries again.
    case deferred(DeliveryStatus)
    /// Done; the status says what was done.
    case delivered(DeliveryStatus)

    public var isFinal: Bool { if case .pending = self { return false } else { return true } }

    public var status: DeliveryStatus? {
        switch self {
        case .pending: return nil
        case .rejected(let s), .deferred(let s), .delivered(let s): return s
        }
    }
}

/// One envelope recipient with its own actions, state and header additions.
public struct Recipient: Sendable, Equatable {
    /// The final recipient address (after alias expansion, if any).
    public var address: String
    /// The original recipient as the MTA received it (LMTP ORCPT, `mdad deliver -a`).
    public var originalAddress: String?
    /// The local user whose mailbox receives the message, once known.
    public var user: String?
    /// What to do; empty means the implicit keep (store in the default folder).
    public var actions: [RecipientAction] = []
    /// The folder the implicit keep stores into (nil = INBOX); `mdad deliver -m` sets it.
    public var defaultFolder: String?
    public var state: RecipientState = .pending
    /// Header fields added at the top of the message for this recipient only
    /// (Delivered-To, later per-user spam headers), over one shared spooled body.
    public var headerAdditions: [HeaderField] = []

    public init(address: String, originalAddress: String? = nil, user: String? = nil) {
        self.address = address
        self.originalAddress = originalAddress
        self.user = user
    }

    public var isPending: Bool { state == .pending }

    /// Refuses the message for this recipient; a 4.x.x status defers instead.
    public mutating func reject(_ status: DeliveryStatus) {
        state = status.status.isTemporary ? .deferred(status) : .rejected(status)
    }

    /// Defers the message for this recipient (a 5.x.x status rejects instead).
    public mutating func `defer`(_ status: DeliveryStatus) {
        state = status.status.isPermanent ? .rejected(status) : .deferred(status)
    }

    /// Asks for a copy in `folder` (nil = INBOX).
    public mutating func fileInto(_ folder: String?, flags: [String] = []) {
        actions.append(.store(folder: folder, flags: flags))
    }

    /// Asks that the message be dropped for this recipient.
    public mutating func discard() { actions = [.discard] }

    /// The actions to carry out: the explicit ones, or the implicit keep.
    public var effectiveActions: [RecipientAction] {
        actions.isEmpty ? [.store(folder: defaultFolder, flags: [])] : actions
    }
}

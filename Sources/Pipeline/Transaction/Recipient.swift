#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a stage asks to be done with a message for one recipient. Stages ask; the delivery
/// backends carry the actions out at the end of the chain.
public enum RecipientAction: Sendable, Equatable {
    /// Store in a mailbox folder (nil = INBOX) with IMAP flags (`\Seen`, `\Flagged`, …).
    case store(folder: String?, flags: [String])
    /// Drop the message for this recipient, successfully (Sieve `discard`, procmail `/dev/null`).
    case discard
    /// Send the message on to another address through the outbound action (Sieve `redirect`,
    /// procmail `!`, a remote address in aliases or .forward). `sender` replaces the envelope
    /// sender when set (an alias list's `owner-` address); nil keeps the message's.
    case redirect(to: String, sender: String?)
    /// Send a new message through the outbound action (a Sieve vacation reply or notification).
    case send(OutboundMessage)
    /// Pipe the message into a shell command, run as the recipient (procmail `|`, aliases and
    /// .forward `|command`). Its exit status decides: 0 delivered, 75 deferred, others bounce.
    case pipe(command: String)
    /// Append the message to a mailbox named by its path rather than a folder of the
    /// recipient's mailbox (procmail folders, aliases and .forward `/file/name`).
    case file(path: String, format: FileFormat)
}

/// How a mailbox named by a path is written.
public enum FileFormat: Sendable, Equatable {
    /// One file, messages appended with a `From ` line (locked as Postfix locks mailboxes).
    case mbox
    /// A Maildir directory (`path/` in procmail and aliases).
    case maildir
    /// An MH folder (`path/.` in procmail): numbered files.
    case mh
    /// A plain directory (procmail's folder naming an existing directory without a trailing
    /// `/`): each message a new file named `prefix` and a unique suffix (MSGPREFIX, `msg.`).
    case directory(prefix: String)
}

/// A message mdad itself sends: a vacation reply, a notification, a bounce.
public struct OutboundMessage: Sendable, Equatable {
    /// The envelope sender; empty for the null sender `<>` (vacation replies use it).
    public var sender: String
    public var recipients: [String]
    /// The whole message, header and body, with CRLF or LF line ends.
    public var data: [UInt8]

    public init(sender: String, recipients: [String], data: [UInt8]) {
        self.sender = sender
        self.recipients = recipients
        self.data = data
    }
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
    /// Which envelope recipient (RCPT TO, in order) this one came from; recipients an alias
    /// expansion made keep their origin's, so LMTP answers each RCPT once for all of them.
    public var envelopeIndex: Int = 0
    /// What to do; empty means the implicit keep (store in the default folder).
    public var actions: [RecipientAction] = []
    /// The folder the implicit keep stores into (nil = INBOX); `mdad deliver -m` sets it.
    public var defaultFolder: String?
    public var state: RecipientState = .pending
    /// Header fields added at the top of the message for this recipient only
    /// (Delivered-To, later per-user spam headers), over one shared spooled body.
    public var headerAdditions: [HeaderField] = []
    /// The message as a stage changed it for this recipient only (Sieve editheader, a procmail
    /// filter recipe); nil means the transaction's message. Stored copies use it.
    public var replacedMessage: ReplacedMessage?
    /// Trace events a recipient stage recorded for this recipient; the chain moves them into
    /// ``Transaction/traceEvents`` after the stage (a recipient stage cannot reach the transaction).
    public var traceEvents: [TraceEvent] = []

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

    /// The message this recipient's copies are made from.
    public func message(in transaction: Transaction) -> Message {
        replacedMessage?.message ?? transaction.message
    }

    /// Asks that the message be dropped for this recipient.
    public mutating func discard() { actions = [.discard] }

    /// The actions to carry out: the explicit ones, or the implicit keep.
    public var effectiveActions: [RecipientAction] {
        actions.isEmpty ? [.store(folder: defaultFolder, flags: [])] : actions
    }
}

/// A recipient's own version of the message. Two are equal when they are the same replacement
/// (messages are compared by identity: comparing spooled bodies byte by byte is never wanted).
public struct ReplacedMessage: Sendable, Equatable {
    public let message: Message
    private let id: UInt64

    public init(_ message: Message) {
        self.message = message
        id = ReplacedMessage.nextID()
    }

    public static func == (a: ReplacedMessage, b: ReplacedMessage) -> Bool { a.id == b.id }

    private static let counter = Locked<UInt64>(0)
    private static func nextID() -> UInt64 { counter.withLock { $0 += 1; return $0 } }
}

/// One thing a stage did or decided, recorded for `mdad trace`.
///
/// Any stage may record events; they cost nothing unless the transaction is being traced
/// (``Transaction/tracing``). Stages that have their own notion of "why" (a spam rule that hit,
/// the Sieve test or procmail recipe that matched) name the file and line it came from, so the
/// trace can point at the user's own configuration.
public struct TraceEvent: Sendable, Equatable {
    /// What kind of event: a short lower-case word tools can group on.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A header field was added, changed or removed.
        case header
        /// The body was replaced.
        case body
        /// A recipient was added, replaced, expanded or dropped.
        case recipient
        /// The envelope sender changed.
        case sender
        /// A rule or test matched (a spam hit, a Sieve test, a procmail recipe, a lookup).
        case match
        /// A decision about recipients: reject, defer, discard, an action asked for.
        case decision
        /// Anything else worth telling.
        case note
    }

    /// The stage that recorded the event, as named in `pipeline` (filled by the chain).
    public var stage: String
    public var kind: Kind
    public var text: String
    /// The recipient the event is about, when it is about one.
    public var recipient: String?
    /// The configuration file and line the event comes from (a rule, a recipe), when known.
    public var file: String?
    public var line: Int?

    public init(stage: String = "", kind: Kind, text: String, recipient: String? = nil,
                file: String? = nil, line: Int? = nil) {
        self.stage = stage
        self.kind = kind
        self.text = text
        self.recipient = recipient
        self.file = file
        self.line = line
    }
}

extension Transaction {
    /// Records a trace event when the transaction is traced; `text` is only built then.
    public mutating func trace(_ kind: TraceEvent.Kind, _ text: @autoclosure () -> String,
                               recipient: String? = nil, file: String? = nil, line: Int? = nil) {
        guard tracing else { return }
        traceEvents.append(TraceEvent(stage: currentStage, kind: kind, text: text(), recipient: recipient,
                                      file: file, line: line))
    }
}

extension Recipient {
    /// Records a trace event about this recipient when `transaction` is traced (for recipient
    /// stages, which see the transaction but cannot change it).
    public mutating func trace(_ kind: TraceEvent.Kind, _ text: @autoclosure () -> String, in transaction: Transaction,
                               file: String? = nil, line: Int? = nil) {
        guard transaction.tracing else { return }
        traceEvents.append(TraceEvent(stage: transaction.currentStage, kind: kind, text: text(), recipient: address,
                                      file: file, line: line))
    }
}

extension RecipientAction: CustomStringConvertible {
    /// The action in a few words, as `mdad trace` shows it: `store INBOX`, `redirect <a@b>`.
    public var description: String {
        switch self {
        case .store(let folder, let flags):
            return "store \(folder ?? "INBOX")\(flags.isEmpty ? "" : " " + flags.joined(separator: " "))"
        case .discard: return "discard"
        case .redirect(let to, let sender): return "redirect <\(to)>\(sender.map { " from <\($0)>" } ?? "")"
        case .send(let m): return "send a message to \(m.recipients.map { "<\($0)>" }.joined(separator: ", "))"
        case .pipe(let command): return "pipe \(command)"
        case .file(let path, let format): return "file \(path) (\(format))"
        }
    }
}

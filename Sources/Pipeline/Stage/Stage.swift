import Logging

/// What the chain does after a stage.
public enum StageVerdict: Sendable, Equatable {
    /// Go on with the next stage.
    case `continue`
    /// Stop the chain here; the recipients' actions so far are carried out.
    case stop
}

/// What a stage may read besides the transaction.
public struct StageContext: Sendable {
    public var logger: Logger
    public var configuration: Configuration

    public init(logger: Logger, configuration: Configuration) {
        self.logger = logger
        self.configuration = configuration
    }
}

/// A step of the chain.
///
/// A stage is built once from the configuration, shared by every message and so keeps no
/// per-message state: what it learns about a message goes into the transaction. It reads and
/// changes the transaction (headers, recipients, per-recipient actions) and returns whether the
/// chain goes on. It never writes a mailbox itself: it asks for an action, and the delivery
/// backends carry it out at the end of the chain.
///
/// A stage that works once per message implements `process(_:context:)`. One that works
/// once per recipient (Sieve, procmail) conforms to ``RecipientStage`` instead.
///
/// A thrown ``DeliveryStatus`` applies to every pending recipient (a 5.x.x rejects, a 4.x.x
/// defers); any other error is unexpected and defers them with 4.3.0 — a bug never bounces mail.
///
/// ## A stage in one file
///
/// ```swift
/// struct ListTagStage: Stage {
///     static let parameters: [ParameterDeclaration] = [
///         .init("list_tag_lists", .list, default: "", "Lists to tag; empty tags every list."),
///     ]
///     let lists: [String]
///     init(configuration: Configuration) throws { lists = try configuration.list("list_tag_lists") }
///
///     func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
///         guard let id = transaction.message.header["List-Id"]?.value else { return .continue }
///         transaction.trace(.header, "tagged from List-Id \(id)")   // shown by `mdad trace`
///         // … change transaction.message.header …
///         return .continue
///     }
/// }
/// ```
///
/// Register it with its parameters (they are validated at start-up with file and line, and
/// `mdad postconf` shows them), then name it in `pipeline`:
///
/// ```swift
/// var registry = StageRegistry.builtin
/// registry.register("listtag", doc: "…", parameters: ListTagStage.parameters) { try ListTagStage(configuration: $0) }
/// ```
///
/// Test it with `PipelineTestKit`: `var tx = try Transaction.literal("Subject: hi\n\nbody\n")`,
/// `await tx.run(stage)`, then `#expect` on `tx.recipients` and `tx.message`.
///
/// ## What a stage may do
///
/// - change the header (`transaction.message.header`) or replace the message;
/// - add, replace or drop recipients (`transaction.recipients`), or give one a header of its own
///   (`Recipient/headerAdditions`);
/// - ask for actions per recipient: ``Recipient/fileInto(_:flags:)``, ``Recipient/discard()``,
///   ``RecipientAction/redirect(to:sender:)`` and the others of ``RecipientAction``;
/// - decide a recipient's fate: ``Recipient/reject(_:)``, ``Recipient/defer(_:)``, or throw a
///   ``DeliveryStatus`` for all of them;
/// - record why, for `mdad trace`: ``Transaction/trace(_:_:recipient:file:line:)``;
/// - stop the chain by returning ``StageVerdict/stop``.
///
/// It must not write mailboxes, send mail or keep per-message state in itself.
///
/// ## Topics
///
/// ### Running once per recipient
/// - ``RecipientStage``
/// ### Registering
/// - ``StageRegistry``
/// - ``ParameterDeclaration``
public protocol Stage: Sendable {
    /// Reads and changes one message's transaction; returns whether the chain goes on.
    ///
    /// - Parameters:
    ///   - transaction: the message, its envelope and its recipients, each with its own state.
    ///   - context: the logger (lines carry the queue ID) and the configuration.
    /// - Returns: ``StageVerdict/continue`` to go on, ``StageVerdict/stop`` to end the chain.
    /// - Throws: a ``DeliveryStatus`` to reject or defer every pending recipient; anything
    ///   else defers them with 4.3.0.
    func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict
}

/// A stage that runs once for each recipient still pending.
///
/// A thrown ``DeliveryStatus`` applies to that recipient only; any other error defers that
/// recipient with 4.3.0.
public protocol RecipientStage: Stage {
    func process(_ recipient: inout Recipient, of transaction: Transaction,
                 context: StageContext) async throws -> StageVerdict
}

extension RecipientStage {
    /// Runs the stage for every pending recipient. The chain stops after this stage only when
    /// every recipient's run asked it to.
    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        var stops = 0
        let pending = transaction.pendingIndices
        for i in pending {
            var recipient = transaction.recipients[i]
            do {
                if try await process(&recipient, of: transaction, context: context) == .stop { stops += 1 }
            } catch let status as DeliveryStatus {
                recipient.reject(status)
            } catch {
                context.logger.warning("\(type(of: self)) failed for \(recipient.address): \(error)")
                recipient.defer(.unexpected(error, while: "processing recipient"))
            }
            if !recipient.traceEvents.isEmpty {
                transaction.traceEvents += recipient.traceEvents
                recipient.traceEvents = []
            }
            transaction.recipients[i] = recipient
        }
        return !pending.isEmpty && stops == pending.count ? .stop : .continue
    }
}

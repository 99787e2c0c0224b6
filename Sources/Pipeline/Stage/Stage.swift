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
public protocol Stage: Sendable {
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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The configured stages in order, built once and run for every message.
public struct Chain: Sendable {
    public struct Step: Sendable {
        public let name: String
        public let stage: any Stage

        public init(name: String, stage: any Stage) {
            self.name = name
            self.stage = stage
        }

        public var isRecipientStage: Bool { stage is any RecipientStage }
    }

    public let steps: [Step]

    public init(_ steps: [Step]) { self.steps = steps }

    /// Runs the transaction through every stage.
    ///
    /// Each stage is timed. A stage that throws a ``DeliveryStatus`` decides the fate of every
    /// recipient still pending; any other error from a message stage defers them with 4.3.0,
    /// so a bug defers mail and never bounces it. The chain ends early when a stage says stop
    /// or when no recipient is left pending.
    ///
    /// `afterStep`, when given, sees the transaction after each stage with the stage's verdict
    /// (`mdad trace` compares what each stage changed).
    public func run(_ transaction: inout Transaction, context: StageContext,
                    afterStep: ((Step, StageVerdict, Transaction) -> Void)? = nil) async {
        for step in steps {
            if transaction.pendingIndices.isEmpty { break }
            let start = Timestamp.now()
            transaction.currentStage = step.name
            var verdict = StageVerdict.continue
            do {
                verdict = try await step.stage.process(&transaction, context: context)
            } catch let status as DeliveryStatus {
                transaction.trace(.decision, "every pending recipient: \(status)")
                transaction.rejectAll(status)
            } catch {
                context.logger.warning("stage \(step.name) failed: \(error)")
                transaction.trace(.decision, "stage failed, every pending recipient deferred: \(error)")
                transaction.deferAll(DeliveryStatus(.temporaryFailure, "temporary failure in stage \(step.name)",
                                                    reason: "stage \(step.name) failed: \(error)"))
            }
            transaction.stageTimings.append((step.name, Timestamp.now().seconds(since: start)))
            afterStep?(step, verdict, transaction)
            if verdict == .stop { break }
        }
    }
}

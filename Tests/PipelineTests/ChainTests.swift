import Testing
import PipelineTestKit
@testable import Pipeline

struct Boom: Error {}

struct ThrowingStage: Stage {
    let error: any Error & Sendable
    func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        throw error
    }
}

struct TaggingStage: Stage {
    let tag: String
    let verdict: StageVerdict
    func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        transaction.message.header.append(try HeaderField(name: "X-Seen", value: tag))
        return verdict
    }
}

/// Files each recipient into a folder named after its local part, fails for "bad", refuses "gone".
struct PerRecipientStage: RecipientStage {
    func process(_ recipient: inout Recipient, of transaction: Transaction,
                 context: StageContext) async throws -> StageVerdict {
        let local = String(recipient.address.split(separator: "@").first ?? "")
        if local == "bad" { throw Boom() }
        if local == "gone" { throw DeliveryStatus(.unknownUser, "no such user") }
        recipient.fileInto(local)
        return .continue
    }
}

@Suite("chain runner")
struct ChainTests {
    let context = StageContext.forTesting()

    func chain(_ stages: [(String, any Stage)]) -> Chain {
        Chain(stages.map { Chain.Step(name: $0.0, stage: $0.1) })
    }

    @Test func unexpectedErrorsDeferWith430NeverBounce() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", to: ["a@x", "b@x"])
        await tx.run(ThrowingStage(error: Boom()), named: "buggy")
        for r in tx.recipients {
            guard case .deferred(let s) = r.state else { Issue.record("expected deferral, got \(r.state)"); continue }
            #expect(s.status == .temporaryFailure)
            #expect(s.reason.contains("buggy"))
        }
    }

    @Test func deliveryStatusesDecidePendingRecipients() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", to: ["a@x", "b@x"])
        tx.recipients[1].reject(DeliveryStatus(.unknownUser, "earlier"))
        await tx.run(ThrowingStage(error: DeliveryStatus(.policyRejection, "no")))
        #expect(tx.recipients[0].state == .rejected(DeliveryStatus(.policyRejection, "no")))
        #expect(tx.recipients[1].state == .rejected(DeliveryStatus(.unknownUser, "earlier")), "a final recipient keeps its fate")

        var tx2 = try Transaction.literal("Subject: x\n\nb\n")
        await tx2.run(ThrowingStage(error: DeliveryStatus(.mailboxFull, "full")))
        #expect(tx2.recipients[0].state == .deferred(DeliveryStatus(.mailboxFull, "full")))
    }

    @Test func stagesRunInOrderStopEndsTheChainAndEachIsTimed() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n")
        let c = chain([("one", TaggingStage(tag: "1", verdict: .continue)),
                       ("two", TaggingStage(tag: "2", verdict: .stop)),
                       ("three", TaggingStage(tag: "3", verdict: .continue))])
        await c.run(&tx, context: context)
        #expect(tx.message.header.all("X-Seen").map(\.value) == ["1", "2"])
        #expect(tx.stageTimings.map(\.stage) == ["one", "two"])
        #expect(tx.stageTimings.allSatisfy { $0.seconds >= 0 })
    }

    @Test func chainEndsWhenNoRecipientIsPending() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n")
        let c = chain([("reject", ThrowingStage(error: DeliveryStatus(.policyRejection, "no"))),
                       ("tag", TaggingStage(tag: "late", verdict: .continue))])
        await c.run(&tx, context: context)
        #expect(tx.message.header["X-Seen"] == nil)
    }

    @Test func recipientStagesRunPerRecipientWithTheirOwnFate() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", to: ["alice@x", "bad@x", "gone@x", "bob@x"])
        await tx.run(PerRecipientStage())
        #expect(tx.recipients[0].actions == [.store(folder: "alice", flags: [])])
        #expect(tx.recipients[0].isPending)
        guard case .deferred(let s) = tx.recipients[1].state else { Issue.record("bad@x must be deferred"); return }
        #expect(s.status == .temporaryFailure)
        #expect(tx.recipients[2].state == .rejected(DeliveryStatus(.unknownUser, "no such user")))
        #expect(tx.recipients[3].actions == [.store(folder: "bob", flags: [])])
        #expect(Chain.Step(name: "r", stage: PerRecipientStage()).isRecipientStage)
        #expect(!Chain.Step(name: "m", stage: TaggingStage(tag: "", verdict: .continue)).isRecipientStage)
    }

    @Test func implicitKeepAndDiscard() {
        var r = Recipient(address: "a@x")
        #expect(r.effectiveActions == [.store(folder: nil, flags: [])])
        r.defaultFolder = "Junk"
        #expect(r.effectiveActions == [.store(folder: "Junk", flags: [])])
        r.discard()
        #expect(r.effectiveActions == [.discard])
    }

    @Test func nullSender() {
        #expect(Envelope(sender: "<>").isNullSender)
        #expect(Envelope(sender: "").isNullSender)
        #expect(Envelope(sender: " <a@b> ").sender == "a@b")
    }
}

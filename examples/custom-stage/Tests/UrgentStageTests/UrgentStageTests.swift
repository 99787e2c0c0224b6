import Testing
import Pipeline
import PipelineTestKit
#if canImport(UrgentStage)
import UrgentStage
#endif

// Runs in the example package (swift test there) and in mdad's own tests, which compile the
// stage and this file into a test target of their own.
@Suite("example package: urgent stage")
struct UrgentStageTests {
    @Test func urgentSubjectsAreFlagged() async throws {
        var tx = try Transaction.literal("Subject: Outage: ASAP please\n\nbody\n")
        await tx.run(UrgentStage(words: ["asap"]))
        #expect(tx.recipients[0].actions == [.store(folder: nil, flags: ["\\Flagged"])])
    }

    @Test func otherSubjectsKeepTheImplicitKeep() async throws {
        var tx = try Transaction.literal("Subject: asapient thoughts\n\nbody\n")
        await tx.run(UrgentStage(words: ["asap"]))
        #expect(tx.recipients[0].actions.isEmpty)
    }

    @Test func registeredOnTopOfTheBuiltins() throws {
        var registry = StageRegistry()
        registry.registerUrgent()
        var config = Configuration(table: registry.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("pipeline", "urgent")
        config.set("urgent_words", "outage")
        #expect(try registry.makeChain(config).steps.map(\.name) == ["urgent"])
    }
}

import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("access stage")
struct AccessStageTests {
    @Test func refusesListedSendersWith571() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", from: "Spammer@Example.com", to: ["a@x", "b@x"])
        await tx.run(AccessStage(rejectSenders: ["spammer@example.com"]))
        for r in tx.recipients {
            #expect(r.state.status?.status == .policyRejection)
            #expect(r.state.status?.text == "<Spammer@Example.com>: Sender address rejected: Access denied")
        }
    }

    @Test func refusesRecipientsOneByOne() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", to: ["keep@example.com", "old@retired.example", "noreply@x.example"])
        await tx.run(AccessStage(rejectRecipients: ["@retired.example", "noreply@"]))
        #expect(tx.recipients[0].isPending)
        #expect(tx.recipients[1].state.status?.status == .policyRejection)
        #expect(tx.recipients[2].state.status?.status == .policyRejection)
    }

    @Test func nullSenderAndNonMatchesPass() async throws {
        var tx = try Transaction.literal("Subject: x\n\nb\n", from: "")
        await tx.run(AccessStage(rejectSenders: ["@", "a@example.com", "@example.com"]))
        #expect(tx.recipients[0].isPending)
        #expect(!AccessStage.matches("a@example.community", ["@example.com"]))
        #expect(AccessStage.matches("a@example.com", ["a@"]))
    }

    @Test func builtFromConfigurationThroughTheRegistry() throws {
        var config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("pipeline", "access")
        config.set("access_reject_senders", "x@y, @z")
        let chain = try StageRegistry.builtin.makeChain(config)
        #expect(chain.steps.map(\.name) == ["access"])
        config.set("pipeline", "access, nonsense")
        #expect(throws: ConfigError.self) { try StageRegistry.builtin.makeChain(config) }
    }
}

@Suite("trace headers")
struct TraceHeaderTests {
    @Test func addsReturnPathAndDeliveredTo() throws {
        let m = try Message.literal("Subject: x\n\nb\n")
        let plan = TraceHeaders.plan(for: m, sender: "s@x", recipient: "r@y")
        #expect(plan.loop == nil)
        #expect(plan.additions.map { String(decoding: $0.raw, as: UTF8.self) } == ["Return-Path: <s@x>\n", "Delivered-To: r@y\n"])
        let null = TraceHeaders.plan(for: m, sender: "", recipient: "r@y")
        #expect(null.additions.first?.value == "<>")
    }

    @Test func keepsWhatPostfixAlreadyPutOnTop() throws {
        let m = try Message.literal("Return-Path: <s@x>\nX-Original-To: r@y\nDelivered-To: R@Y\nReceived: a\n\nb\n")
        let plan = TraceHeaders.plan(for: m, sender: "s@x", recipient: "r@y")
        #expect(plan.loop == nil)
        #expect(plan.additions.isEmpty)
    }

    @Test func deliveredToBelowTheTopIsALoop() throws {
        let m = try Message.literal("Return-Path: <s@x>\nReceived: a\nDelivered-To: <r@y>\nSubject: x\n\nb\n")
        let plan = TraceHeaders.plan(for: m, sender: "s@x", recipient: "r@y")
        #expect(plan.loop?.status == .mailLoop)
        let other = TraceHeaders.plan(for: m, sender: "s@x", recipient: "someone@y")
        #expect(other.loop == nil)
    }
}

@Suite("parameter defaults")
struct ParameterDefaultsTests {
    /// `validate()` skips constant defaults at run time; this is where they are checked: every
    /// declared parameter, core, stage and service, at its default.
    @Test func everyDefaultValidates() throws {
        let config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "mx.example.com"))
        try config.validate(defaults: true)
        #expect(config.table.order.count > 100)
    }

    /// A typed default that refers to another parameter is checked even when it is not set.
    @Test func aDefaultReferringToABadValueIsCaught() throws {
        var table = ParameterTable()
        table.add(ParameterDeclaration("test_count", .integer, default: "$test_text", "a number"))
        table.add(ParameterDeclaration("test_text", .string, default: "12", "text"))
        let good = Configuration(table: table, system: SystemInfo(hostName: "x"))
        try good.validate()
        let bad = try Configuration(mainCF: "test_text = twelve\n", file: "main.cf", table: table, system: SystemInfo(hostName: "x"))
        #expect(throws: ConfigError.self) { try bad.validate() }
        // A constant default is not re-checked at run time; a set value always is.
        let set = try Configuration(mainCF: "test_count = x\n", file: "main.cf", table: table, system: SystemInfo(hostName: "x"))
        #expect(throws: ConfigError.self) { try set.validate() }
    }
}

import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

// The copy-me stage of docs/writing-a-stage.md, compiled and tested so it stays correct.

/// Files mail whose Subject starts with a configured tag into a folder.
struct SubjectTagStage: RecipientStage {
    static let parameters: [ParameterDeclaration] = [
        .init("subject_tag", .string, default: "[list]", "Subject prefix that selects the folder."),
        .init("subject_tag_folder", .string, default: "Lists", "Folder for tagged mail."),
    ]
    let tag: String
    let folder: String

    init(configuration: Configuration) throws {
        tag = try configuration.string("subject_tag")
        folder = try configuration.string("subject_tag_folder")
    }

    init(tag: String, folder: String) {
        self.tag = tag
        self.folder = folder
    }

    func process(_ recipient: inout Recipient, of transaction: Transaction,
                 context: StageContext) async throws -> StageVerdict {
        if transaction.message.header["Subject"]?.value.hasPrefix(tag) == true {
            recipient.fileInto(folder)
        }
        return .continue
    }
}

@Suite("stage skeleton")
struct SkeletonStageTests {
    @Test func filesTaggedMail() async throws {
        var tx = try Transaction.literal("Subject: [list] hi\n\nbody\n")
        await tx.run(SubjectTagStage(tag: "[list]", folder: "Lists"))
        #expect(tx.recipients[0].actions == [.store(folder: "Lists", flags: [])])
    }

    @Test func leavesOtherMailToTheImplicitKeep() async throws {
        var tx = try Transaction.literal("Subject: hello\n\nbody\n")
        await tx.run(SubjectTagStage(tag: "[list]", folder: "Lists"))
        #expect(tx.recipients[0].actions.isEmpty)
    }

    @Test func registeredAndBuiltFromMainCF() async throws {
        var registry = StageRegistry.builtin
        registry.register("subject_tag", doc: "File tagged mail.", parameters: SubjectTagStage.parameters) {
            try SubjectTagStage(configuration: $0)
        }
        let config = try Configuration(mainCF: "pipeline = subject_tag\nsubject_tag = [x]\nsubject_tag_folder = X\n",
                                       file: "main.cf", table: registry.parameterTable,
                                       system: SystemInfo(hostName: "h.example"))
        let chain = try registry.makeChain(config)
        var tx = try Transaction.literal("Subject: [x] y\n\nb\n")
        await chain.run(&tx, context: .forTesting(configuration: config))
        #expect(tx.recipients[0].actions == [.store(folder: "X", flags: [])])
        #expect(config.unknownEntries.isEmpty, "stage parameters are declared, not 'unused'")
    }
}

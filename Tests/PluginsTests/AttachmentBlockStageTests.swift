import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("attachments stage")
struct AttachmentBlockStageTests {
    static func message(_ disposition: String, type: String = "application/octet-stream") -> String {
        """
        From: a@example.com
        Subject: invoice
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="b1"

        --b1
        Content-Type: text/plain

        see attached
        --b1
        Content-Type: \(type)
        Content-Disposition: \(disposition)
        Content-Transfer-Encoding: base64

        TVqQAAMAAAAEAAAA
        --b1--

        """
    }

    let stage = AttachmentBlockStage(extensions: ["exe", "js"], types: ["application/x-msdownload"])

    @Test(arguments: [
        #"attachment; filename="invoice.exe""#,
        #"attachment; filename="INVOICE.EXE""#,
        #"attachment; filename="invoice.pdf.exe. ""#,
        #"attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.js"#,
        #"attachment; filename="=?UTF-8?B?c2NyaXB0Lmpz?=""#,
    ])
    func blockedNamesAreRefusedWith571(disposition: String) async throws {
        var tx = try Transaction.literal(Self.message(disposition), to: ["a@x.example", "b@x.example"])
        tx.tracing = true
        await tx.run(stage, named: "attachments")
        for r in tx.recipients {
            guard case .rejected(let s) = r.state else { Issue.record("not rejected: \(r.state) for \(disposition)"); continue }
            #expect(s.status == .policyRejection)
            #expect(s.text.hasPrefix("message content rejected: attachment"))
        }
        #expect(tx.traceEvents.first?.kind == .match)
    }

    @Test func blockedTypesAreRefusedAndOthersPass() async throws {
        var typed = try Transaction.literal(Self.message(#"attachment; filename="setup.bin""#, type: "Application/X-MSDownload"))
        await typed.run(stage)
        #expect(typed.recipients[0].state.status?.status == .policyRejection)

        for ok in [#"attachment; filename="report.pdf""#, #"attachment; filename="exe""#, #"inline"#] {
            var tx = try Transaction.literal(Self.message(ok))
            await tx.run(stage)
            #expect(tx.recipients[0].isPending, "\(ok)")
        }
    }

    @Test func nestedMessagesAreLookedInto() async throws {
        let inner = Self.message(#"attachment; filename="payload.js""#)
        let outer = """
            From: b@example.com
            Subject: Fwd: invoice
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="outer"

            --outer
            Content-Type: message/rfc822

            \(inner)
            --outer--

            """
        var tx = try Transaction.literal(outer)
        await tx.run(stage)
        #expect(tx.recipients[0].state.status?.status == .policyRejection)
    }

    @Test func defaultsComeFromMainCF() throws {
        var config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("pipeline", "attachments")
        let chain = try StageRegistry.builtin.makeChain(config)
        let s = try #require(chain.steps.first?.stage as? AttachmentBlockStage)
        #expect(s.extensions.contains("exe") && s.extensions.contains("scr") && !s.extensions.contains("pdf"))
        #expect(s.types.isEmpty)
    }
}

import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("listtag stage")
struct ListTagStageTests {
    func subject(after text: String, _ stage: ListTagStage = ListTagStage()) async throws -> String? {
        var tx = try Transaction.literal(text)
        await tx.run(stage)
        #expect(tx.recipients[0].isPending)
        return tx.message.header["Subject"]?.value
    }

    @Test func listMailIsTaggedOnce() async throws {
        let m = "List-Id: Go Nuts <golang-nuts.googlegroups.com>\nSubject: generics question\n\nbody\n"
        #expect(try await subject(after: m) == "[golang-nuts] generics question")
        let reply = "List-Id: <golang-nuts.googlegroups.com>\nSubject: Re: [Golang-Nuts] generics question\n\nbody\n"
        #expect(try await subject(after: reply) == "Re: [Golang-Nuts] generics question")
        #expect(try await subject(after: "List-Id: <x.example.org>\n\nbody\n") == "[x]")
    }

    @Test func otherMailAndOtherListsAreLeftAlone() async throws {
        #expect(try await subject(after: "Subject: hello\n\nbody\n") == "hello")
        let only = ListTagStage(lists: ["*.lists.debian.org"])
        #expect(try await subject(after: "List-Id: <debian-devel.lists.debian.org>\nSubject: s\n\nb\n", only) == "[debian-devel] s")
        #expect(try await subject(after: "List-Id: <golang-nuts.googlegroups.com>\nSubject: s\n\nb\n", only) == "s")
        // A List-Id that could smuggle text into the header is not used.
        #expect(try await subject(after: "List-Id: <a]b:c.example>\nSubject: s\n\nb\n") == "s")
    }

    @Test func theRestOfTheMessageIsUntouched() async throws {
        var tx = try Transaction.literal("Received: x\nList-Id: <l.example>\nSubject: s\nX-Other: y\n\nbody\n")
        await tx.run(ListTagStage())
        var sink = BufferSink()
        try tx.message.write(to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "Received: x\nList-Id: <l.example>\nSubject: [l] s\nX-Other: y\n\nbody\n")
    }
}

import Foundation
import Testing
@testable import LMTPServer
@testable import Pipeline
import Plugins

/// `mdad trace` over a real configuration directory: aliases (texthash), access, a filter
/// program (sed) and the rules stage; text and JSON.
@Suite("mdad trace")
struct TraceCommandTests {
    func configDir(_ extra: String = "") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-trace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "team root, someone@elsewhere.example\n".write(toFile: "\(dir)/aliases", atomically: true, encoding: .utf8)
        try """
            myhostname = mx.example.com
            pipeline = access, aliases, filter, rules
            rules_engines =
            alias_maps = texthash:\(dir)/aliases
            access_reject_recipients = retired@elsewhere.example
            filter_command = /bin/sh -c "sed '1i X-Filtered: by sed'"
            \(extra)
            """.write(toFile: "\(dir)/main.cf", atomically: true, encoding: .utf8)
        try "From: a@example.com\nSubject: hi\n\nbody\n".write(toFile: "\(dir)/msg", atomically: true, encoding: .utf8)
        return dir
    }

    func options(_ dir: String, _ recipients: [String]) -> TraceCommand.Options {
        var o = TraceCommand.Options()
        o.configDirectory = dir
        o.messagePath = "\(dir)/msg"
        o.sender = "<a@example.com>"
        o.recipients = recipients
        return o
    }

    @Test func showsEachStagesChangesAndTheFinalActions() async throws {
        let dir = try configDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try await TraceCommand.trace(options(dir, ["team@mx.example.com"]))
        #expect(report.sender == "a@example.com")
        #expect(report.stages.map(\.name) == ["access", "aliases", "filter", "rules"])
        let aliases = report.stages[1]
        #expect(aliases.events.map(\.text) == ["expands to <root@mx.example.com>, <someone@elsewhere.example> (redirect <someone@elsewhere.example>)"])
        #expect(aliases.changes.contains("recipient removed: <team@mx.example.com>"))
        #expect(aliases.changes.contains("recipient added: <someone@elsewhere.example> (from <team@mx.example.com>)"))
        #expect(report.stages[2].changes.contains("header added: X-Filtered: by sed"))
        #expect(report.recipients.map(\.address) == ["root@mx.example.com", "someone@elsewhere.example"])
        #expect(report.recipients.map(\.actions) == [["store INBOX"], ["redirect <someone@elsewhere.example>"]])
        #expect(report.recipients.allSatisfy { $0.state == "pending" && $0.originalAddress == "team@mx.example.com" })
    }

    @Test func rejectionsAreExplained() async throws {
        let dir2 = try configDir()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        try "team retired@elsewhere.example\n".write(toFile: "\(dir2)/aliases", atomically: true, encoding: .utf8)
        let report = try await TraceCommand.trace(options(dir2, ["team@mx.example.com"]))
        // aliases expands team into the retired address; access ran before and let team pass.
        #expect(report.recipients.map(\.state) == ["pending"])
        #expect(report.recipients.first?.actions == ["redirect <retired@elsewhere.example>"])
        // With access after aliases the expanded address is refused, and the trace says why.
        try "myhostname = mx.example.com\npipeline = aliases, access\nrules_engines =\nalias_maps = texthash:\(dir2)/aliases\naccess_reject_recipients = retired@elsewhere.example\n"
            .write(toFile: "\(dir2)/main.cf", atomically: true, encoding: .utf8)
        let after = try await TraceCommand.trace(options(dir2, ["team@mx.example.com"]))
        #expect(after.recipients.map(\.state) == ["rejected"])
        #expect(after.stages[1].events.map(\.text) == ["recipient is in access_reject_recipients"])
        #expect(after.stages[1].events.first?.recipient == "retired@elsewhere.example")
        #expect(after.stages[1].changes.first?.hasPrefix("<retired@elsewhere.example>: rejected 5.7.1") == true)
    }

    @Test func jsonFollowsTheDocumentedSchema() async throws {
        let dir = try configDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try await TraceCommand.trace(options(dir, ["team@mx.example.com"]))
        let text = TraceFormat.json(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["version"] as? Int == 1)
        #expect(object["sender"] as? String == "a@example.com")
        let stages = try #require(object["stages"] as? [[String: Any]])
        #expect(stages.map { $0["name"] as? String } == ["access", "aliases", "filter", "rules"])
        for s in stages {
            #expect(Set(s.keys) == ["name", "verdict", "seconds", "events", "changes"])
            for e in try #require(s["events"] as? [[String: Any]]) {
                #expect(Set(e.keys) == ["kind", "text", "recipient", "file", "line"])
                #expect(TraceEvent.Kind(rawValue: e["kind"] as? String ?? "") != nil)
            }
        }
        let recipients = try #require(object["recipients"] as? [[String: Any]])
        #expect(recipients.map { $0["address"] as? String } == ["root@mx.example.com", "someone@elsewhere.example"])
        #expect(Set(recipients[0].keys) == ["address", "original_address", "state", "status", "actions", "mailbox"])
        #expect(TraceFormat.string("a\"b\\\n\u{1}") == "\"a\\\"b\\\\\\n\\u0001\"")
    }

    @Test func configurationErrorsNameFileAndLine() async throws {
        let dir = try configDir("filter_timeout = soon")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await #expect(throws: ConfigError.self) { try await TraceCommand.trace(options(dir, ["root@mx.example.com"])) }
        do {
            _ = try await TraceCommand.trace(options(dir, ["root@mx.example.com"]))
        } catch {
            #expect("\(error)".contains("main.cf") && "\(error)".contains("filter_timeout"))
        }
    }
}

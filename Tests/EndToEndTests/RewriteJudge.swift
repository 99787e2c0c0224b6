import Foundation
import Testing
import Pipeline
import PipelineTestKit
import Plugins

/// One message for the rewrite differential: an envelope and the header lines (a Message-ID
/// naming the case goes first, so Postfix's log can be tied to it, then a Date, so Postfix adds
/// neither); the body is one line unless given.
struct RewriteCase: Sendable {
    var name: String
    var sender: String
    var recipients: [String]
    var headers: String
    var body = "body line\n"
    /// Submitted over SMTP from 127.0.0.1 (a client, for the header rewrite scope) instead of
    /// with Postfix's sendmail (a local submission).
    var viaSMTP = false

    func message(_ index: Int) -> [UInt8] {
        Array(("Message-ID: <case-\(index)@judge.example>\nDate: Wed, 25 Nov 2026 01:00:00 +0000\n" + headers + "\n" + body).utf8)
    }
}

/// What became of one message on one side.
enum RewriteOutcome: Equatable, CustomStringConvertible {
    /// Delivered: the envelope sender, and per original recipient the final recipient and the header fields.
    case delivered(sender: String, recipients: [String: String], fields: [String: [String]], body: String)
    case rejected(String)
    case discarded
    case held

    var description: String {
        switch self {
        case .delivered(let s, let r, _, _): return "delivered from <\(s)> to \(r.sorted { $0.key < $1.key })"
        case .rejected(let t): return "rejected (\(t))"
        case .discarded: return "discarded"
        case .held: return "held"
        }
    }
}

/// The differential judge: a private Postfix whose every delivery goes to a recording pipe(8)
/// transport (the message as cleanup(8) left it, with the envelope), and mdad's rewrite stage
/// on the same main.cf settings. Each case's envelope and every header field are compared;
/// Received fields (each side's own trace) are left out.
final class RewriteJudge {
    let dir: URL
    let settings: String
    let postfix: PostfixInstance
    let out: URL

    /// `settings` (main.cf lines, `TABLES` standing for the directory of `tables`) go to both
    /// Postfix and mdad.
    init(settings rawSettings: String, tables: [String: String] = [:]) throws {
        dir = URL(fileURLWithPath: "/tmp/mdad-rwjudge-\(UUID().uuidString.prefix(8))")
        out = dir.appendingPathComponent("out")
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("tables"), withIntermediateDirectories: true)
        chmod(dir.path, 0o755)
        chmod(dir.appendingPathComponent("tables").path, 0o755)
        chmod(out.path, 0o777)
        for (name, text) in tables {
            let path = dir.appendingPathComponent("tables/\(name)").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o644)
        }
        settings = rawSettings.replacingOccurrences(of: "TABLES", with: dir.appendingPathComponent("tables").path)
        // $1 queue ID, $2 sender, $3 original recipient, $4 recipient; one recipient per delivery.
        let script = dir.appendingPathComponent("record.sh").path
        try """
            #!/bin/sh
            f="\(out.path)/$1.$(printf %s "$3" | tr -c 'A-Za-z0-9@.+-' _)"
            { printf 'X-Env-Sender: <%s>\\nX-Env-Original-Recipient: <%s>\\nX-Env-Recipient: <%s>\\n' "$2" "$3" "$4"; cat; } > "$f.tmp" && mv "$f.tmp" "$f"

            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        do {
            postfix = try PostfixInstance(mdadMainCF: "", postfixMainCF: """
                default_transport = record
                local_transport = record
                record_destination_recipient_limit = 1
                message_drop_headers = content-length
                smtpd_delay_reject = no
                \(settings)
                """, services: ["record unix - n n - - pipe user=nobody null_sender= argv=\(script) ${queue_id} ${sender} ${original_recipient} ${recipient}"])
        } catch {
            try? fm.removeItem(at: dir)
            throw error
        }
    }

    func stop() {
        postfix.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    // MARK: Postfix's side

    func submitToPostfix(_ c: RewriteCase, index: Int) throws {
        let message = c.message(index)
        if c.viaSMTP {
            let file = dir.appendingPathComponent("case-\(index).eml")
            // swaks ends the data with its own line break before the final dot.
            try Data(message.last == 10 ? message.dropLast() : message[...]).write(to: file)
            let r = try postfix.run("/usr/bin/swaks", ["--server", "127.0.0.1:\(postfix.port)", "--from", c.sender,
                                                       "--to", c.recipients.joined(separator: ","), "--helo", "client.example.test",
                                                       "--data", file.path])
            guard r.output.contains("queued as") || r.output.contains(" 5") else { throw SkipReason("swaks failed: \(r.output)") }
        } else {
            let r = try postfix.sendmail(message, sender: c.sender, recipients: c.recipients)
            guard r.status == 0 else { throw SkipReason("sendmail failed (\(r.status)): \(r.output)") }
        }
    }

    /// Waits for the case's fate in Postfix's log and recording directory.
    func postfixOutcome(_ c: RewriteCase, index: Int, timeout: Double = 30) throws -> RewriteOutcome {
        let deadline = Date().addingTimeInterval(timeout)
        var queueID: String?
        while Date() < deadline {
            let log = (try? String(contentsOf: postfix.maillog, encoding: .utf8)) ?? ""
            let lines = log.split(separator: "\n")
            if queueID == nil, let line = lines.first(where: { $0.contains("message-id=<case-\(index)@judge.example>") }),
               let r = line.range(of: #"\]: ([0-9A-F]+): message-id"#, options: .regularExpression) {
                queueID = String(line[r].dropFirst(3).prefix { $0 != ":" })
            }
            if let id = queueID {
                for line in lines where line.contains(": \(id): ") && line.contains("postfix/cleanup") {
                    if let r = line.range(of: ": \(id): reject: ") {
                        let rest = line[r.upperBound...]
                        // "... from=<s> to=<r>: 5.7.1 text" — the text after the last "> ... : ".
                        if let colon = rest.range(of: #">(: | [^:]*: )"#, options: [.regularExpression, .backwards]) {
                            return .rejected(String(rest[colon.upperBound...]))
                        }
                        return .rejected(String(rest))
                    }
                    if line.contains(": \(id): discard: ") { return .discarded }
                    if line.contains(": \(id): hold: ") { return .held }
                }
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [])
                    .filter { $0.hasPrefix(id + ".") && !$0.hasSuffix(".tmp") }
                if files.count == c.recipients.count {
                    return try recorded(files.map { out.appendingPathComponent($0) })
                }
            }
            usleep(50_000)
        }
        throw SkipReason("Postfix gave no outcome for case \(c.name) within \(timeout) s (queue ID \(queueID ?? "unknown"))")
    }

    func recorded(_ files: [URL]) throws -> RewriteOutcome {
        var sender = ""
        var recipients: [String: String] = [:]
        var fields: [String: [String]] = [:]
        var body = ""
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            let message = try Message.parse(Spool(bytes: bytes))
            body = String(decoding: bytes[message.bodyOffset...], as: UTF8.self)
            func env(_ name: String) -> String { Envelope.normalize(message.header[name]?.value ?? "") }
            sender = env("X-Env-Sender")
            let original = env("X-Env-Original-Recipient")
            recipients[original] = env("X-Env-Recipient")
            fields[original] = message.header.fields
                .filter { !$0.name.hasPrefix("X-Env-") && !$0.hasName("Received") }
                .map { String(decoding: $0.raw, as: UTF8.self) }
        }
        return .delivered(sender: sender, recipients: recipients, fields: fields, body: body)
    }

    // MARK: mdad's side

    func configuration() throws -> Configuration {
        var c = try Configuration(mainCF: settings, file: "main.cf", table: StageRegistry.builtin.parameterTable,
                                  system: SystemInfo(hostName: postfix.hostName))
        c.set("pipeline", "rewrite")
        return c
    }

    func mdadOutcome(_ c: RewriteCase, index: Int, stage: RewriteStage, configuration: Configuration) async throws -> RewriteOutcome {
        var tx = Transaction(envelope: Envelope(sender: c.sender),
                             recipients: c.recipients.map { Recipient(address: $0, originalAddress: $0) },
                             message: try Message.parse(Spool(bytes: c.message(index))))
        if c.viaSMTP { tx.client = "localhost[127.0.0.1]" }
        await tx.run(stage, named: "rewrite", configuration: configuration)
        switch tx.recipients.first?.state {
        case .rejected(let s)?: return .rejected(s.description)
        case .deferred(let s)?: return s.status == EnhancedStatus(4, 7, 1) && s.text.contains("held") ? .held : .rejected(s.description)
        default: break
        }
        if tx.recipients.first?.actions == [.discard] { return .discarded }
        var recipients: [String: String] = [:]
        var fields: [String: [String]] = [:]
        let header = tx.message.header.fields.filter { !$0.hasName("Received") }.map { String(decoding: $0.raw, as: UTF8.self) }
        for r in tx.recipients {
            let original = r.originalAddress ?? r.address
            recipients[original] = Self.internalForm(r.address)
            fields[original] = header
        }
        let all = try tx.message.spool.allBytes()
        return .delivered(sender: Self.internalForm(tx.envelope.sender), recipients: recipients, fields: fields,
                          body: String(decoding: all[tx.message.bodyOffset...], as: UTF8.self))
    }

    /// pipe(8) hands over addresses in Postfix's internal form, local parts unquoted
    /// (`john doe@example.org`); mdad's envelope holds them as written on the wire.
    static func internalForm(_ address: String) -> String {
        guard let m = AddressList.parse(address).mailboxes.first, !address.isEmpty else { return address }
        return m.localPart + (m.domain.map { "@" + $0 } ?? "")
    }

    // MARK: the comparison

    struct Report {
        var compared = 0
        var agreed = 0
        var differences: [String] = []
        var figure: String { "\(agreed)/\(compared)" }
        var ratio: Double { compared == 0 ? 0 : Double(agreed) / Double(compared) }
    }

    /// Runs every case through both and compares: the outcome, the envelope sender, each final
    /// recipient, and each header field (by position).
    func judge(_ cases: [RewriteCase], group: String) async throws -> Report {
        let config = try configuration()
        let stage = try RewriteStage(configuration: config)
        for (i, c) in cases.enumerated() { try submitToPostfix(c, index: i) }
        var report = Report()
        func compare(_ what: String, _ p: String, _ m: String, _ name: String) {
            report.compared += 1
            if p == m { report.agreed += 1 } else {
                report.differences.append("[\(group)] \(name): \(what)\n      postfix: \(p.debugDescription)\n      mdad:    \(m.debugDescription)")
            }
        }
        for (i, c) in cases.enumerated() {
            let p = try postfixOutcome(c, index: i)
            let m = try await mdadOutcome(c, index: i, stage: stage, configuration: config)
            print("  case [\(group)] \(c.name): postfix \(p), mdad \(m)")
            switch (p, m) {
            case (.delivered(let ps, let pr, let pf, let pb), .delivered(let ms, let mr, let mf, let mb)):
                compare("body", pb, mb, c.name)
                compare("envelope sender", ps, ms, c.name)
                for r in c.recipients {
                    compare("envelope recipient \(r)", pr[r] ?? "(none)", mr[r] ?? "(none)", c.name)
                }
                let pFields = pf[c.recipients[0]] ?? [], mFields = mf[c.recipients[0]] ?? []
                for k in 0..<max(pFields.count, mFields.count) {
                    let pv = k < pFields.count ? pFields[k] : "(no field)"
                    let mv = k < mFields.count ? mFields[k] : "(no field)"
                    let name = (k < pFields.count ? pFields[k] : mv).prefix { $0 != ":" }
                    compare("header \(k + 1) (\(name))", pv, mv, c.name)
                }
            default:
                compare("outcome", p.description, m.description, c.name)
            }
        }
        return report
    }
}

/// Runs one group of cases against a fresh Postfix with `settings`, prints the agreement
/// figure and every difference, and returns the report.
func runRewriteDifferential(_ group: String, settings: String, tables: [String: String] = [:],
                            _ cases: [RewriteCase]) async throws -> RewriteJudge.Report {
    let judge = try RewriteJudge(settings: settings, tables: tables)
    defer { judge.stop() }
    let report = try await judge.judge(cases, group: group)
    print("rewrite differential [\(group)]: \(report.figure) comparisons agree with Postfix \(postfixVersion)")
    for d in report.differences { print("  difference \(d)") }
    return report
}

let postfixVersion: String = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/postconf")
    p.arguments = ["-dh", "mail_version"]
    let out = Pipe()
    p.standardOutput = out
    try? p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}()

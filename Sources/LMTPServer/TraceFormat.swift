import Pipeline

/// `mdad trace` output: text for people, JSON for tools (schema in docs/trace.md).
enum TraceFormat {
    static func text(_ r: TraceCommand.Report) -> String {
        var out = "queue id \(r.queueID), sender <\(r.sender)>\n"
        for s in r.stages {
            let ms = Int((s.seconds * 1000).rounded())
            out += "\nstage \(s.name) (\(ms) ms)\(s.verdict == .stop ? ", stops the chain" : "")\n"
            for e in s.events {
                let at = e.file.map { " [\($0)\(e.line.map { ":\($0)" } ?? "")]" } ?? ""
                out += "  why: \(e.kind.rawValue): \(e.recipient.map { "<\($0)> " } ?? "")\(e.text)\(at)\n"
            }
            for c in s.changes { out += "  changed: \(c)\n" }
            if s.events.isEmpty && s.changes.isEmpty { out += "  no change\n" }
        }
        out += "\nrecipients\n"
        for p in r.recipients {
            out += "  <\(p.address)>\(p.originalAddress.map { $0 != p.address ? " (for <\($0)>)" : "" } ?? ""): \(p.state)"
            if let s = p.status { out += " \(s)" }
            if !p.actions.isEmpty { out += ": " + p.actions.joined(separator: "; ") }
            if let m = p.mailbox { out += " in \(m)" }
            out += "\n"
        }
        return out
    }

    static func json(_ r: TraceCommand.Report) -> String {
        var stages: [String] = []
        for s in r.stages {
            let events = s.events.map { e in
                object([("kind", string(e.kind.rawValue)), ("text", string(e.text)),
                        ("recipient", e.recipient.map(string) ?? "null"), ("file", e.file.map(string) ?? "null"),
                        ("line", e.line.map { String($0) } ?? "null")])
            }
            stages.append(object([("name", string(s.name)), ("verdict", string(s.verdict == .stop ? "stop" : "continue")),
                                  ("seconds", String(s.seconds)), ("events", "[" + events.joined(separator: ",") + "]"),
                                  ("changes", "[" + s.changes.map(string).joined(separator: ",") + "]")]))
        }
        let recipients = r.recipients.map { p in
            object([("address", string(p.address)), ("original_address", p.originalAddress.map(string) ?? "null"),
                    ("state", string(p.state)), ("status", p.status.map(string) ?? "null"),
                    ("actions", "[" + p.actions.map(string).joined(separator: ",") + "]"),
                    ("mailbox", p.mailbox.map(string) ?? "null")])
        }
        return object([("version", "1"), ("queue_id", string(r.queueID)), ("sender", string(r.sender)),
                       ("stages", "[" + stages.joined(separator: ",") + "]"),
                       ("recipients", "[" + recipients.joined(separator: ",") + "]")]) + "\n"
    }

    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A JSON string (RFC 8259 section 7).
    static func string(_ s: String) -> String {
        JSONText.string(s)
    }
}

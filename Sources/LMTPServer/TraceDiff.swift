import Pipeline

/// What changed in a transaction between two points of the chain, in words.
enum TraceDiff {
    static func changes(from a: Transaction, to b: Transaction) -> [String] {
        var out: [String] = []
        if a.envelope.sender != b.envelope.sender {
            out.append("sender <\(a.envelope.sender)> -> <\(b.envelope.sender)>")
        }
        // Header fields, compared as bytes (a changed field shows as removed and added).
        var remaining = b.message.header.fields.map(\.raw)
        for f in a.message.header.fields {
            if let i = remaining.firstIndex(of: f.raw) { remaining.remove(at: i) } else { out.append("header removed: \(f.name)") }
        }
        for raw in remaining {
            let f = b.message.header.fields.first { $0.raw == raw }!
            out.append("header added: \(f.name): \(short(f.value))")
        }
        if a.message.spool !== b.message.spool, a.message.bodySize != b.message.bodySize || a.message.bodyOffset != b.message.bodyOffset {
            out.append("message replaced (body \(a.message.bodySize) -> \(b.message.bodySize) bytes)")
        }
        // A recipient is the same one when its address and its envelope recipient are.
        func key(_ r: Recipient) -> String { "\(r.envelopeIndex)|\(r.address.lowercased())" }
        let before = Dictionary(a.recipients.map { (key($0), $0) }, uniquingKeysWith: { x, _ in x })
        let after = Set(b.recipients.map(key))
        for r in b.recipients {
            guard let old = before[key(r)] else {
                out.append("recipient added: <\(r.address)>\(r.originalAddress.map { $0 != r.address ? " (from <\($0)>)" : "" } ?? "")")
                continue
            }
            if old.state != r.state {
                out.append("<\(r.address)>: \(stateName(r.state))\(r.state.status.map { " \($0.status) \($0.text)" } ?? "")")
            }
            if old.actions != r.actions {
                out.append("<\(r.address)>: actions \(r.actions.isEmpty ? "keep" : r.actions.map(describe).joined(separator: ", "))")
            }
            if old.replacedMessage != r.replacedMessage { out.append("<\(r.address)>: own copy of the message changed") }
            if old.headerAdditions != r.headerAdditions {
                for f in r.headerAdditions where !old.headerAdditions.contains(f) {
                    out.append("<\(r.address)>: header added: \(f.name): \(short(f.value))")
                }
            }
        }
        for r in a.recipients where !after.contains(key(r)) {
            out.append("recipient removed: <\(r.address)>")
        }
        return out
    }

    static func stateName(_ s: RecipientState) -> String {
        switch s {
        case .pending: return "pending"
        case .rejected: return "rejected"
        case .deferred: return "deferred"
        case .delivered: return "delivered"
        }
    }

    static func describe(_ a: RecipientAction) -> String { a.description }

    static func short(_ v: String) -> String { v.count > 100 ? String(v.prefix(97)) + "..." : v }
}

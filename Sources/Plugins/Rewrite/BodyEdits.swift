import Pipeline

/// IGNORE, REPLACE and PREPEND found by body_checks or by the header checks of body parts,
/// applied to the spooled message: the body is read once, the edited lines replaced, and the
/// message parsed anew over the result (in memory; bounded by message_size_limit). Nothing is
/// rewritten when no such action matched.
struct BodyEdits {
    struct Edit {
        var range: Range<Int>
        var replacement: [UInt8]
    }

    private(set) var edits: [Edit] = []

    var isEmpty: Bool { edits.isEmpty }

    /// Records the edit an event asks for; returns a complaint when its text cannot be used.
    mutating func add(_ event: ContentChecks.Event, spool: Spool) throws -> String? {
        guard let range = event.range else { return nil }
        let original = try spool.read(offset: range.lowerBound, count: range.count)
        let eol: [UInt8] = original.last != 10 ? [] : (original.dropLast().last == 13 ? [13, 10] : [10])
        func line(_ text: String) -> [UInt8]? {
            if event.isHeader {
                guard let f = RewriteStage.header(text) else { return nil }
                return Array(f.raw.dropLast()) + (eol.isEmpty ? [10] : eol)
            }
            guard !text.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else { return nil }
            return Array(text.utf8) + (eol.isEmpty ? [10] : eol)
        }
        switch event.action {
        case .ignore:
            edits.append(Edit(range: range, replacement: []))
        case .replace(let text):
            guard let l = line(text) else { return "bad REPLACE text \"\(text)\"; ignored" }
            edits.append(Edit(range: range, replacement: l))
        case .prepend(let text):
            guard let l = line(text) else { return "bad PREPEND text \"\(text)\"; ignored" }
            edits.append(Edit(range: range, replacement: l + original))
        default:
            break
        }
        return nil
    }

    /// The message with the edits made; its header section is `message`'s (as the stage left it).
    func apply(to message: Message, limits: Message.Limits) throws -> Message {
        let bytes = try message.spool.allBytes()
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var position = 0
        for edit in edits.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) where edit.range.lowerBound >= position {
            out += bytes[position..<edit.range.lowerBound]
            out += edit.replacement
            position = edit.range.upperBound
        }
        out += bytes[position...]
        var edited = try Message.parse(Spool(bytes: out), limits: limits)
        edited.header = message.header
        return edited
    }
}

/// Writes address lists back into header fields the way Postfix's cleanup(8) does when it
/// rewrites addresses in a header (canonical maps, masquerading, qualifying `alice` with
/// `myorigin`):
///
/// - a field in which no address changed keeps its bytes exactly;
/// - a field in which one did is rebuilt from its tokens: display names, quoted strings,
///   comments and angle brackets kept, blanks normalised to one space, an obsolete source
///   route dropped (`<@relay:user>` becomes `<user@domain>`);
/// - the rebuilt list is folded as cleanup's `cleanup_fold_header` folds it: one address per
///   line to begin with, then lines joined with a space while the line stays under 70
///   characters, continuation lines starting with a tab.
///
/// The expected outputs in AddressWriterTests were taken from Postfix 3.7.11 rewriting the
/// same headers (`append_at_myorigin`) on this machine.
public enum AddressWriter {
    /// Rewrites the mailboxes of an address field. `transform` returns the mailbox to write
    /// (the same one to leave it as it is). Returns `field` itself when nothing changed, unless
    /// `rebuild` asks for the field to be written anew all the same (Postfix rebuilds a field
    /// whose addresses it would quote differently, `"x.y"@example.org` as `x.y@example.org`).
    public static func rewrite(_ field: HeaderField, limit: Int = AddressList.defaultLimit, rebuild: Bool = false,
                               _ transform: (Mailbox) -> Mailbox) -> HeaderField {
        rewrite(field, list: AddressList.parse(field, limit: limit), rebuild: rebuild, transform)
    }

    /// The same over a list the caller has already parsed from `field` (with its limit).
    public static func rewrite(_ field: HeaderField, list parsed: AddressList, rebuild: Bool = false,
                               _ transform: (Mailbox) -> Mailbox) -> HeaderField {
        var list = parsed
        // A list cut short by the limit is not rewritten: writing it back would drop addresses.
        guard !list.truncated else { return field }
        var changed = false
        func apply(_ m: Mailbox) -> Mailbox {
            let n = transform(m)
            if n != m { changed = true }
            return n
        }
        list.entries = list.entries.map { e in
            switch e {
            case .mailbox(let m): return .mailbox(apply(m))
            case .group(let name, let members): return .group(name: name, members: members.map(apply))
            }
        }
        guard changed || rebuild else { return field }
        // The rebuilt field ends its lines as the field did, so a CRLF message stays CRLF.
        return build(name: field.name, list, lineEnding: field.endsWithCRLF ? "\r\n" : "\n")
    }

    /// A new field `name: list`, folded the Postfix way, its lines ended with `lineEnding`.
    public static func build(name: String, _ list: AddressList, lineEnding: String = "\n") -> HeaderField {
        // One element per line first, as tok822_externalize writes a rewritten list. Whatever
        // the parts hold, the only line breaks written are the folding below.
        var lines: [String] = [] {
            didSet { lines[lines.count - 1] = Self.singleLine(lines[lines.count - 1]) }
        }
        for (k, e) in list.entries.enumerated() {
            let last = k == list.entries.count - 1
            switch e {
            case .mailbox(let m):
                lines.append(externalize(m) + (last ? "" : ","))
            case .group(let gname, let members):
                let head = Mailbox.quotedIfNeeded(gname) + ":"
                if members.isEmpty {
                    // Postfix writes an empty group as "name: ;".
                    lines.append(head + " ;" + (last ? "" : ","))
                } else {
                    for (j, m) in members.enumerated() {
                        let text = (j == 0 ? head + " " : "") + externalize(m)
                        lines.append(text + (j == members.count - 1 ? ";" + (last ? "" : ",") : ","))
                    }
                }
            }
        }
        // Join lines while the line stays under 70 characters (counted from the start of the
        // field, its name included), as cleanup_fold_header does.
        // The tab that starts a continuation line is not counted (Postfix adds it on output).
        var out: [String] = []
        var current = name + ": "
        for (k, l) in lines.enumerated() {
            if k == 0 { current += l; continue }
            if current.utf8.count + 1 + l.utf8.count < 70 {
                current += " " + l
            } else {
                out.append(current)
                current = l
            }
        }
        out.append(current)
        let text = out.joined(separator: lineEnding + "\t") + lineEnding
        let bytes = Array(text.utf8)
        return HeaderField(name: name, raw: bytes, valueStart: name.utf8.count + 1)
    }

    /// CR and LF as blanks: a part of a field must not end its line.
    static func singleLine(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return s }
        return String(decoding: s.utf8.map { $0 == 10 || $0 == 13 ? 32 : $0 }, as: UTF8.self)
    }

    /// One mailbox as Postfix writes it: `phrase <address>`, `address`, comments after.
    public static func externalize(_ m: Mailbox) -> String {
        var s = ""
        // The phrase as it was written while the display name is unchanged (encoded words
        // and quoting kept, as Postfix keeps the tokens); a new name is quoted as needed.
        let source = m.displayName == m.parsedDisplayName ? m.phraseSource : nil
        if let phrase = source ?? m.displayName.map(Mailbox.quotedIfNeeded), !phrase.isEmpty {
            s = phrase + " "
        }
        if m.angleBrackets || !s.isEmpty || m.isNull {
            s += "<" + m.address + m.angleComments.map { " (" + $0 + ")" }.joined() + ">"
        } else {
            s += m.address
        }
        // No blank between '>' and a comment right after it: Postfix writes
        // `carol <carol@example.org>(trailing)`, and `bob@example.org (Bob)` with one.
        for c in m.comments.dropFirst(source == nil ? 0 : m.commentsInPhrase) {
            s += (s.hasSuffix(">") ? "(" : " (") + c + ")"
        }
        return s
    }
}

extension HeaderSection {
    /// The sender and recipient fields whose addresses a rewrite changes (RFC 5322 section
    /// 3.6.2 and 3.6.3, their Resent- forms, and the older notification fields mail still
    /// carries). A stage can pass its own list.
    public static let addressFieldNames = [
        "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
        "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Bcc",
        "Return-Receipt-To", "Errors-To", "Disposition-Notification-To",
    ]

    /// Rewrites the mailboxes of every field named in `names` in place; fields where nothing
    /// changed keep their bytes. Returns how many fields were rebuilt.
    @discardableResult
    public mutating func rewriteAddresses(in names: [String] = HeaderSection.addressFieldNames,
                                          limit: Int = AddressList.defaultLimit,
                                          _ transform: (Mailbox) -> Mailbox) -> Int {
        var rebuilt = 0
        for k in fields.indices where names.contains(where: { fields[k].hasName($0) }) {
            let new = AddressWriter.rewrite(fields[k], limit: limit, transform)
            if new.raw != fields[k].raw {
                fields[k] = new
                rebuilt += 1
            }
        }
        return rebuilt
    }
}

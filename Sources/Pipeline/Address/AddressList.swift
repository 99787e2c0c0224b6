/// One mailbox of an address header (RFC 5322 section 3.4): an optional display name and an
/// address, which may be unqualified (`alice`) or the null address `<>`.
public struct Mailbox: Sendable, Equatable {
    /// The display name, decoded: quoted strings unquoted, RFC 2047 words decoded.
    public var displayName: String?
    /// The local part, unquoted (`john doe` for `"john doe"@example.com`).
    public var localPart: String
    /// The domain, nil for an unqualified address.
    public var domain: String?
    /// The domains of an obsolete source route (`<@a.example,@b.example:user@c.example>`,
    /// RFC 5322 section 4.4); kept for display, ignored for delivery as the RFC says.
    public var route: [String] = []
    /// Comments in the mailbox (`alice@example.com (Alice)`), unescaped.
    public var comments: [String] = []
    /// True when the address was in angle brackets.
    public var angleBrackets: Bool

    /// The phrase as it was written (quoted strings and encoded words kept), for writing back.
    var phraseSource: String?
    /// The display name `phraseSource` stands for; a changed display name is written anew.
    var parsedDisplayName: String?
    /// How many of `comments` (the first ones) are written inside `phraseSource`.
    var commentsInPhrase = 0
    /// Comments written inside the angle brackets (`<john (work) @host>`), which Postfix
    /// writes back after the address, still inside them: `<john@host (work)>`.
    var angleComments: [String] = []

    public init(displayName: String? = nil, localPart: String, domain: String?, angleBrackets: Bool = true) {
        self.displayName = displayName
        self.localPart = localPart
        self.domain = domain
        self.angleBrackets = angleBrackets || displayName != nil
        self.phraseSource = nil
        self.parsedDisplayName = nil
    }

    /// The null address `<>` (RFC 5321 section 4.5.5).
    public var isNull: Bool { localPart.isEmpty && domain == nil }

    /// The address as written in a header: `local@domain`, the local part quoted when it is
    /// not a dot-atom.
    public var address: String {
        let local = Mailbox.isDotAtom(localPart) ? localPart : "\"" + Mailbox.escaped(localPart) + "\""
        guard let domain else { return isNull ? "" : local }
        return local + "@" + domain
    }

    /// The name a reader sees: the display name, else the first comment (the old
    /// `alice@example.com (Alice Example)` form).
    public var name: String? { displayName ?? comments.first }

    /// RFC 5322 dot-atom text: atext runs separated by single dots. One pass over the bytes
    /// (it runs for every address written back).
    public static func isDotAtom(_ s: String) -> Bool {
        var previousDot = true   // no dot first
        var empty = true
        for c in s.utf8 {
            empty = false
            if c == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else if AddressLexer.isAtext(c) {
                previousDot = false
            } else {
                return false
            }
        }
        return !empty && !previousDot
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }

    /// A phrase: atoms as they are, anything else in a quoted string.
    static func quotedIfNeeded(_ s: String) -> String {
        let words = s.split(separator: " ", omittingEmptySubsequences: false)
        if !s.isEmpty, words.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(AddressLexer.isAtext) }) { return s }
        return "\"" + escaped(s) + "\""
    }
}

/// One element of an address list: a mailbox, or a named group of mailboxes (RFC 5322
/// section 3.4: `undisclosed-recipients:;` is a group with no members).
public enum AddressListEntry: Sendable, Equatable {
    case mailbox(Mailbox)
    case group(name: String, members: [Mailbox])
}

/// An address list (RFC 5322 section 3.4 `address-list`, with the obsolete syntax of
/// section 4.4 accepted: empty list elements, route addresses, comments anywhere).
///
/// Parsing never fails: what does not parse is skipped up to the next comma. The number of
/// entries is bounded, so a header with 100,000 addresses costs at most the limit.
public struct AddressList: Sendable, Equatable {
    public var entries: [AddressListEntry]
    /// True when the list had more addresses than the limit; the rest were not read.
    public var truncated: Bool

    /// The most mailboxes read from one header field by default.
    public static let defaultLimit = 10_000

    public init(entries: [AddressListEntry], truncated: Bool = false) {
        self.entries = entries
        self.truncated = truncated
    }

    /// Every mailbox, group members included, in order.
    public var mailboxes: [Mailbox] {
        entries.flatMap { e -> [Mailbox] in
            switch e {
            case .mailbox(let m): return [m]
            case .group(_, let members): return members
            }
        }
    }

    public static func parse(_ text: String, limit: Int = defaultLimit) -> AddressList {
        parse(Array(text.utf8), limit: limit)
    }

    public static func parse(_ field: HeaderField, limit: Int = defaultLimit) -> AddressList {
        parse(Array(field.rawValue), limit: limit)
    }

    public static func parse(_ bytes: [UInt8], limit: Int = defaultLimit) -> AddressList {
        var p = AddressParser(lexer: AddressLexer(bytes), limit: limit)
        return p.parseList()
    }
}

/// The recursive-descent parser behind ``AddressList/parse(_:limit:)``.
struct AddressParser {
    typealias Token = AddressLexer.Token
    var lexer: AddressLexer
    let limit: Int
    var count = 0
    var truncated = false
    /// Comments met inside or right after a domain, for the mailbox being parsed.
    var domainComments: [String] = []

    static let comma = AddressLexer.Kind.special(UInt8(ascii: ","))
    static let colon = AddressLexer.Kind.special(UInt8(ascii: ":"))
    static let semicolon = AddressLexer.Kind.special(UInt8(ascii: ";"))
    static let lt = AddressLexer.Kind.special(UInt8(ascii: "<"))
    static let gt = AddressLexer.Kind.special(UInt8(ascii: ">"))
    static let at = AddressLexer.Kind.special(UInt8(ascii: "@"))
    static let dot = AddressLexer.Kind.special(UInt8(ascii: "."))

    mutating func parseList() -> AddressList {
        var entries: [AddressListEntry] = []
        while lexer.peek() != nil {
            if count >= limit { truncated = true; break }
            if lexer.peek()?.kind == Self.comma { _ = lexer.next(); continue }   // obs-addr-list: empty elements
            let before = lexer.consumed
            if let e = parseEntry(inGroup: false) { entries.append(e) }
            // A stray ';' (or anything else no rule takes) is skipped, so the loop always
            // moves on.
            if lexer.consumed == before { _ = lexer.next() }
        }
        return AddressList(entries: entries, truncated: truncated)
    }

    /// Skips to the next comma (or semicolon, in a group) after something that did not parse.
    mutating func recover(inGroup: Bool) {
        while let t = lexer.peek(), t.kind != Self.comma, !(inGroup && t.kind == Self.semicolon) { _ = lexer.next() }
    }

    /// One mailbox or group. Reads the leading words, then decides by what follows them.
    mutating func parseEntry(inGroup: Bool) -> AddressListEntry? {
        var words: [Token] = []     // phrase or local-part words, dots included
        var phrase: [Token] = []    // the same with the comments among them, for writing back
        var comments: [String] = []
        while let t = lexer.peek() {
            switch t.kind {
            case .atom, .quoted, .domainLiteral, .special(UInt8(ascii: ".")):
                words.append(lexer.next()!)
                phrase.append(words.last!)
            case .comment:
                phrase.append(lexer.next()!)
                comments.append(Self.text(phrase.last!.text))
            case .special(UInt8(ascii: "<")):
                if !hasClosingAngle() {
                    // No '>' before the next comma: the '<' is an ordinary character, and the
                    // words around it make one local part, which Postfix writes quoted
                    // ("Broken <missing"@example.org).
                    return unmatchedAngle(words, comments)
                }
                _ = lexer.next()
                guard var m = parseAngleAddr() else { recover(inGroup: inGroup); return nil }
                // Comments before the angle address are part of the phrase's surroundings.
                let after = skipComments()
                m.comments = comments + after
                if !words.isEmpty {
                    // Comments among the words stay where they were when the field is
                    // written back ("Alice (the boss) <alice@…>"), as Postfix keeps them.
                    m.phraseSource = Self.phraseSource(phrase)
                    m.commentsInPhrase = comments.count
                    m.displayName = EncodedWord.decode(Self.phraseText(words))
                    m.parsedDisplayName = m.displayName
                }
                count += 1
                return .mailbox(m)
            case .special(UInt8(ascii: ":")) where !inGroup:
                _ = lexer.next()
                return parseGroup(name: words)
            case .special(UInt8(ascii: "@")):
                _ = lexer.next()
                domainComments = []
                let domain = parseDomain()
                var m = Mailbox(localPart: Self.localPart(words), domain: domain, angleBrackets: false)
                m.comments = comments + domainComments + skipComments()
                count += 1
                return .mailbox(m)
            case .special(UInt8(ascii: ",")), .special(UInt8(ascii: ";")):
                return unqualified(words, comments)
            default:
                // A stray special ('>', ')' …): skip it, as lenient readers do.
                _ = lexer.next()
            }
        }
        return unqualified(words, comments)
    }

    /// Whether the '<' about to be read is closed by a '>' before the next comma or semicolon.
    func hasClosingAngle() -> Bool {
        var probe = lexer
        _ = probe.next()
        while let t = probe.next() {
            if t.kind == Self.gt { return true }
            if t.kind == Self.semicolon { return false }
            // A comma ends the entry, unless an obsolete route goes on ("<@a,@b:user@c>").
            if t.kind == Self.comma && probe.peek()?.kind != Self.at { return false }
        }
        return false
    }

    /// An entry with an unclosed '<': `words <rest[@domain]` up to the next comma.
    mutating func unmatchedAngle(_ words: [Token], _ comments: [String]) -> AddressListEntry? {
        var local = Self.phraseText(words)
        if !local.isEmpty { local.append(32) }
        local += lexer.next()!.text
        var domain: String?
        var comments = comments
        while let t = lexer.peek(), t.kind != Self.comma, t.kind != Self.semicolon {
            if t.kind == Self.at {
                _ = lexer.next()
                domainComments = []
                domain = parseDomain()
                comments += domainComments
                continue
            }
            let tok = lexer.next()!
            if tok.kind == .comment { comments.append(Self.text(tok.text)) } else if domain == nil { local += tok.text }
        }
        var m = Mailbox(localPart: Self.text(local), domain: domain, angleBrackets: false)
        m.comments = comments
        count += 1
        return .mailbox(m)
    }

    /// Words with no '@' and no angle brackets: an unqualified address (`alice`), which
    /// Postfix qualifies with `myorigin` when it rewrites the header.
    mutating func unqualified(_ words: [Token], _ comments: [String]) -> AddressListEntry? {
        guard !words.isEmpty else { return nil }
        var m = Mailbox(localPart: Self.localPart(words), domain: nil, angleBrackets: false)
        m.comments = comments
        count += 1
        return .mailbox(m)
    }

    mutating func parseGroup(name: [Token]) -> AddressListEntry {
        var members: [Mailbox] = []
        while let t = lexer.peek() {
            if t.kind == Self.semicolon { _ = lexer.next(); break }
            if t.kind == Self.comma { _ = lexer.next(); continue }
            if count >= limit { truncated = true; break }
            let before = lexer.consumed
            if case .mailbox(let m)? = parseEntry(inGroup: true) { members.append(m) }
            if lexer.consumed == before { _ = lexer.next() }
        }
        return .group(name: EncodedWord.decode(Self.phraseText(name)), members: members)
    }

    /// After '<': `[route:] local@domain >`, or `>` for the null address.
    mutating func parseAngleAddr() -> Mailbox? {
        var route: [String] = []
        let leading = skipComments()
        // obs-route: "@a,@b:" before the address.
        if lexer.peek()?.kind == Self.at {
            while lexer.peek()?.kind == Self.at || lexer.peek()?.kind == Self.comma {
                if lexer.next()!.kind == Self.at { route.append(parseDomain()) }
                _ = skipComments()
            }
            guard lexer.peek()?.kind == Self.colon else { return nil }
            _ = lexer.next()
        }
        var words: [Token] = []
        var domain: String?
        var inner = leading
        while let t = lexer.peek() {
            if t.kind == Self.gt { _ = lexer.next(); break }
            if t.kind == Self.at {
                _ = lexer.next()
                domainComments = []
                domain = parseDomain()
                inner += domainComments
                continue
            }
            if t.kind == Self.comma || t.kind == Self.semicolon { break }   // '>' missing
            let tok = lexer.next()!
            if tok.kind == .comment { inner.append(Self.text(tok.text)) } else if domain == nil { words.append(tok) }
        }
        var m = Mailbox(localPart: Self.localPart(words), domain: domain, angleBrackets: true)
        m.route = route
        m.angleComments = inner
        return m
    }

    /// A domain: dot-separated atoms, or a domain literal.
    mutating func parseDomain() -> String {
        var out: [UInt8] = []
        _ = skipComments()
        while let t = lexer.peek() {
            switch t.kind {
            case .atom, .domainLiteral:
                out += lexer.next()!.text
            case .special(UInt8(ascii: ".")):
                out.append(UInt8(ascii: "."))
                _ = lexer.next()
            case .comment:
                // A comment ends the domain unless a dot follows (obs-domain allows CFWS);
                // it is kept for the mailbox.
                domainComments.append(Self.text(lexer.next()!.text))
                if lexer.peek()?.kind != Self.dot { return Self.text(out) }
            default:
                return Self.text(out)
            }
        }
        return Self.text(out)
    }

    mutating func skipComments() -> [String] {
        var out: [String] = []
        while lexer.peek()?.kind == .comment { out.append(Self.text(lexer.next()!.text)) }
        return out
    }

    static func text(_ b: [UInt8]) -> String { Charset.lenient(b) }

    /// RFC 5322 section 4.4 (obs-local-part): words and dots, blanks between them ignored.
    static func localPart(_ words: [Token]) -> String {
        text(words.flatMap(\.text))
    }

    /// The phrase as text: words joined by one space, quoted strings unquoted. A dot sticks to
    /// the word before it (obs-phrase allows "John Q. Public").
    static func phraseText(_ words: [Token]) -> [UInt8] {
        var out: [UInt8] = []
        for w in words {
            if !out.isEmpty, w.kind != dot { out.append(32) }
            out += w.text
        }
        return out
    }

    /// The phrase as Postfix writes it back: tokens separated by one space, quoted strings
    /// requoted, comments in parentheses, and no space on either side of a dot (Postfix 3.7
    /// writes "John Q. Public" back as "John Q.Public").
    static func phraseSource(_ tokens: [Token]) -> String {
        var out = ""
        var previous: AddressLexer.Kind?
        for w in tokens {
            if !out.isEmpty, w.kind != dot, previous != dot { out += " " }
            switch w.kind {
            case .quoted: out += "\"" + Mailbox.escaped(text(w.text)) + "\""
            case .comment: out += "(" + text(w.text) + ")"
            default: out += text(w.text)
            }
            previous = w.kind
        }
        return out
    }
}

import Pipeline

/// The `rewrite` stage: what Postfix's cleanup(8) and trivial-rewrite(8) do to addresses and
/// headers, with the same main.cf parameters.
///
///     pipeline = rewrite, …
///     myorigin = $mydomain
///     masquerade_domains = example.com
///     canonical_maps = texthash:/etc/mdad/canonical
///     header_checks = pcre:/etc/mdad/header_checks
///
/// For the envelope sender and each recipient, and — within the header rewrite scope — for
/// every address in the address headers: the standard form (``AddressQualifier``), then
/// sender_ or recipient_canonical_maps, then canonical_maps (each as its *_classes allow), then
/// masquerading (as masquerade_classes allow). A header in which no address changed keeps its
/// bytes; one that changed is written back by ``AddressWriter`` as Postfix writes it. A header
/// that does not read as addresses is left as it is, and logged.
///
/// Each message header first goes through header_checks (``ContentChecks``); the body parts
/// and lines through mime_header_checks, nested_header_checks and body_checks. A REJECT
/// refuses the message for every recipient with 550 5.7.1 and the text.
public struct RewriteStage: Stage {
    public static let parameters = RewriteParameters.all

    public let qualifier: AddressQualifier
    public let scope: HeaderRewriteScope
    public let masquerade: Masquerade
    public let masqueradeClasses: AddressClasses
    public let canonical: CanonicalMaps
    public let canonicalClasses: AddressClasses
    public let senderCanonical: CanonicalMaps
    public let senderCanonicalClasses: AddressClasses
    public let recipientCanonical: CanonicalMaps
    public let recipientCanonicalClasses: AddressClasses
    public let checks: ContentChecks
    /// $myhostname, for envelope recipients that stay without a domain.
    public let hostName: String
    /// header_size_limit, for reading a message whose body was edited.
    public let headerSizeLimit: Int

    public init(configuration c: Configuration) throws(ConfigError) {
        let tables = try TableRegistry.configured(c)
        let delimiter = try c.string("recipient_delimiter")
        let origin = try c.string("myorigin").trimmingWhitespace().lowercased()
        let local = Set([origin] + (try c.list("mydestination")).filter { !tables.isTable($0) }.map { $0.lowercased() })
        let propagate = try c.list("propagate_unmatched_extensions").contains { $0.lowercased() == "canonical" }
        func maps(_ name: String) throws(ConfigError) -> CanonicalMaps {
            CanonicalMaps(tables: try tables.openList(c, name), recipientDelimiter: delimiter, localDomains: local,
                          propagateExtensions: propagate)
        }
        let limit = try c.size("body_checks_size_limit")
        self.init(qualifier: try AddressQualifier(configuration: c),
                  scope: try HeaderRewriteScope(configuration: c),
                  masquerade: Masquerade(domains: try c.list("masquerade_domains"), exceptions: try c.list("masquerade_exceptions")),
                  masqueradeClasses: try AddressClasses(configuration: c, "masquerade_classes"),
                  canonical: try maps("canonical_maps"),
                  canonicalClasses: try AddressClasses(configuration: c, "canonical_classes"),
                  senderCanonical: try maps("sender_canonical_maps"),
                  senderCanonicalClasses: try AddressClasses(configuration: c, "sender_canonical_classes"),
                  recipientCanonical: try maps("recipient_canonical_maps"),
                  recipientCanonicalClasses: try AddressClasses(configuration: c, "recipient_canonical_classes"),
                  checks: ContentChecks(header: try tables.openList(c, "header_checks"),
                                        mime: try tables.openList(c, "mime_header_checks"),
                                        nested: try tables.openList(c, "nested_header_checks"),
                                        body: try tables.openList(c, "body_checks"), bodySizeLimit: limit),
                  hostName: try c.string("myhostname").trimmingWhitespace(), headerSizeLimit: try c.size("header_size_limit"))
    }

    public init(qualifier: AddressQualifier, scope: HeaderRewriteScope = HeaderRewriteScope(),
                masquerade: Masquerade = Masquerade(domains: []),
                masqueradeClasses: AddressClasses = [.envelopeSender, .headerSender, .headerRecipient],
                canonical: CanonicalMaps = CanonicalMaps(tables: TableList([])),
                canonicalClasses: AddressClasses = [.envelopeSender, .envelopeRecipient, .headerSender, .headerRecipient],
                senderCanonical: CanonicalMaps = CanonicalMaps(tables: TableList([])),
                senderCanonicalClasses: AddressClasses = [.envelopeSender, .headerSender],
                recipientCanonical: CanonicalMaps = CanonicalMaps(tables: TableList([])),
                recipientCanonicalClasses: AddressClasses = [.envelopeRecipient, .headerRecipient],
                checks: ContentChecks = ContentChecks(), hostName: String = "", headerSizeLimit: Int = 102_400) {
        self.qualifier = qualifier
        self.scope = scope
        self.masquerade = masquerade
        self.masqueradeClasses = masqueradeClasses
        self.canonical = canonical
        self.canonicalClasses = canonicalClasses
        self.senderCanonical = senderCanonical
        self.senderCanonicalClasses = senderCanonicalClasses
        self.recipientCanonical = recipientCanonical
        self.recipientCanonicalClasses = recipientCanonicalClasses
        self.checks = checks
        self.hostName = hostName
        self.headerSizeLimit = headerSizeLimit
    }

    /// One address through every step that applies to its class.
    /// `why` hears each step that changed the address: the parameter and, for a map, the
    /// table and key that answered (what `mdad trace` shows).
    public func rewrite(_ mailbox: Mailbox, as kind: AddressClasses, qualifier: AddressQualifier,
                        log: (String) -> Void = { _ in }, why: (String) -> Void = { _ in }) throws -> Mailbox {
        var m = qualifier.rewrite(mailbox)
        if m != mailbox { why("standard form (myorigin, append_dot_mydomain)") }
        let sender = kind.contains(.envelopeSender) || kind.contains(.headerSender)
        let own = sender ? senderCanonical : recipientCanonical
        let ownClasses = sender ? senderCanonicalClasses : recipientCanonicalClasses
        let ownName = sender ? "sender_canonical_maps" : "recipient_canonical_maps"
        if !own.isEmpty, ownClasses.contains(kind) {
            m = try own.rewrite(m, log: log) { why("\(ownName) \($0) key \($1)") }
        }
        if !canonical.isEmpty, canonicalClasses.contains(kind) {
            m = try canonical.rewrite(m, log: log) { why("canonical_maps \($0) key \($1)") }
        }
        if !masquerade.isEmpty, masqueradeClasses.contains(kind) {
            let before = m
            m = masquerade.rewrite(m)
            if m != before { why("masquerade_domains") }
        }
        return m
    }

    /// An envelope address (no brackets; empty for `<>`, which stays empty). A recipient still
    /// without a domain is local: Postfix's resolver completes it with $myhostname.
    public func rewriteEnvelope(_ address: String, as kind: AddressClasses, log: (String) -> Void = { _ in },
                                why: (String) -> Void = { _ in }) throws -> String {
        guard !address.isEmpty, let m = AddressList.parse(address).mailboxes.first else { return address }
        var new = try rewrite(m, as: kind, qualifier: qualifier, log: log, why: why)
        if kind == .envelopeRecipient, new.domain == nil, !new.isNull, !hostName.isEmpty {
            new.domain = hostName
            why("myhostname")
        }
        return new == m ? address : new.address
    }

    /// Whether Postfix would write the field anew although no address changes: it writes every
    /// address of a field it reads in its own quoting, so a quoted local part that needs no
    /// quotes (`"x.y"@example.org`) comes out bare.
    static func needsRequoting(_ field: HeaderField, _ list: AddressList) -> Bool {
        // The quoted strings of the field, as written (escapes and all); usually none.
        var quoted: Set<ArraySlice<UInt8>> = []
        let raw = field.rawValue
        var i = raw.startIndex
        while i < raw.endIndex {
            if raw[i] == UInt8(ascii: "\"") {
                var j = i + 1
                while j < raw.endIndex, raw[j] != UInt8(ascii: "\"") { j += raw[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if j < raw.endIndex { quoted.insert(raw[(i + 1)..<j]) }
                i = j + 1
            } else {
                i += 1
            }
        }
        guard !quoted.isEmpty else { return false }
        return list.mailboxes.contains { m in
            Mailbox.isDotAtom(m.localPart) && quoted.contains(ArraySlice(Array(m.localPart.utf8)))
        }
    }

    /// One address header rewritten in `context`; the same field when nothing changed.
    public func rewriteHeader(_ field: HeaderField, context: HeaderRewriteScope.Context,
                              log: (String) -> Void = { _ in },
                              why: (_ before: Mailbox, _ after: Mailbox, _ steps: [String]) -> Void = { _, _, _ in }) throws -> HeaderField {
        guard let kind = AddressHeaders.classOf(field) else { return field }
        let q: AddressQualifier
        switch context {
        case .local: q = qualifier
        case .remote(let domain): q = qualifier.remote(domain)
        }
        let list = AddressList.parse(field)
        // What does not read as addresses is left as it is: no entries at all in a field that
        // is not empty, or an entry that is only a domain ("@@@").
        if list.entries.isEmpty ? !field.value.isEmpty : list.mailboxes.contains(where: { $0.localPart.isEmpty && $0.domain != nil }) {
            log("header \(field.name) not parsed as addresses; left unchanged: \(ContentChecks.matchText(field.raw).replacingNewlines())")
            return field
        }
        var failure: (any Error)?
        let new = AddressWriter.rewrite(field, list: list, rebuild: Self.needsRequoting(field, list)) { m in
            do {
                var steps: [String] = []
                let new = try rewrite(m, as: kind, qualifier: q, log: log) { steps.append($0) }
                if new != m { why(m, new, steps) }
                return new
            } catch {
                failure = failure ?? error
                return m
            }
        }
        if let failure { throw failure }
        return new
    }

    public func process(_ tx: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let logger = context.logger
        let note: (String) -> Void = { logger.warning("\($0)") }
        do {
            var steps: [String] = []
            let sender = tx.envelope.sender
            let newSender = try rewriteEnvelope(sender, as: .envelopeSender, log: note) { steps.append($0) }
            tx.envelope.sender = newSender
            if newSender != sender { tx.trace(.sender, Self.change("envelope sender", sender, newSender, steps)) }
            for i in tx.pendingIndices {
                steps = []
                let old = tx.recipients[i].address
                let new = try rewriteEnvelope(old, as: .envelopeRecipient, log: note) { steps.append($0) }
                tx.recipients[i].address = new
                if new != old { tx.trace(.recipient, Self.change("envelope recipient", old, new, steps), recipient: old) }
            }
        } catch let e as TableError {
            throw DeliveryStatus(.temporaryFailure, "temporary failure in address rewriting", reason: "\(e)")
        }
        let headerContext = scope.context(client: tx.client)
        let who = "from=<\(tx.envelope.sender)> to=<\(tx.recipients.first?.address ?? "")>"
        let from = tx.client.map { " from \($0)" } ?? ""
        var outcome: Outcome?
        /// Logs an event as cleanup(8) does and says what it means for the message.
        func apply(_ e: ContentChecks.Event) -> Outcome? {
            tx.trace(.match, Self.describe(e))
            let line = { (verb: String, text: String) in
                "\(verb): \(e.place) \(e.text)\(from); \(who)\(text.isEmpty ? "" : ": " + text)"
            }
            switch e.action {
            case .reject(let status):
                logger.info("\(line("reject", status.description))")
                return .reject(status)
            case .discard(let text):
                logger.info("\(line("discard", text))")
                return .discard
            case .hold(let text):
                logger.info("\(line("hold", text))")
                return .hold(DeliveryStatus(EnhancedStatus(4, 7, 1), "message held by content checks",
                                            reason: "hold: \(e.place) \(e.text)\(text.isEmpty ? "" : ": " + text)"))
            case .warn(let text): logger.warning("\(line("warning", text))")
            case .info(let text): logger.info("\(line("info", text))")
            case .unsupported(let word): logger.warning("\(line("warning", "action \(word) is not supported by mdad; ignored"))")
            case .invalid(let text): logger.warning("\(line("warning", "unknown action \"\(text)\"; ignored"))")
            case .none, .ignore, .replace, .prepend: break
            }
            return nil
        }
        do {
            var out: [HeaderField] = []
            out.reserveCapacity(tx.message.header.fields.count)
            for field in tx.message.header.fields {
                var fields = [field]
                if !checks.isEmpty, let e = try checks.checkPrimary(field) {
                    switch e.action {
                    case .ignore, .replace, .prepend: tx.trace(.header, Self.describe(e))
                    default: break
                    }
                    switch e.action {
                    case .ignore:
                        fields = []
                    case .replace(let text):
                        if let f = Self.header(text, crlf: field.endsWithCRLF) { fields = [f] } else {
                            note("bad REPLACE header text \"\(text)\"; ignored")
                        }
                    case .prepend(let text):
                        if let f = Self.header(text, crlf: field.endsWithCRLF) { out.append(f) } else {
                            note("bad PREPEND header text \"\(text)\"; ignored")
                        }
                    default:
                        outcome = apply(e)
                    }
                    if outcome != nil { break }
                }
                for f in fields {
                    guard let c = headerContext else { out.append(f); continue }
                    var changes: [String] = []
                    out.append(try rewriteHeader(f, context: c, log: note) { before, after, steps in
                        changes.append(Self.change("header \(f.name)", before.address, after.address, steps))
                    })
                    for text in changes { tx.trace(.header, text) }
                }
            }
            tx.message.header.fields = out
            if outcome == nil {
                var edits = BodyEdits()
                let spool = tx.message.spool
                var failure: (any Error)?
                try checks.checkBody(tx.message) { e in
                    switch e.action {
                    case .ignore, .replace, .prepend:
                        tx.trace(.body, Self.describe(e))
                        do {
                            if let complaint = try edits.add(e, spool: spool) { note("\(e.place) \(e.text): \(complaint)") }
                        } catch {
                            failure = error
                            return false
                        }
                    default:
                        outcome = apply(e)
                    }
                    return outcome == nil
                }
                if let failure { throw failure }
                if outcome == nil, !edits.isEmpty {
                    tx.message = try edits.apply(to: tx.message, limits: Message.Limits(fieldSize: headerSizeLimit))
                }
            }
        } catch let e as TableError {
            throw DeliveryStatus(.temporaryFailure, "temporary failure in content checks", reason: "\(e)")
        }
        switch outcome {
        case .reject(let status)?, .hold(let status)?:
            throw status
        case .discard?:
            for i in tx.pendingIndices { tx.recipients[i].discard() }
            return .stop
        case nil:
            return .continue
        }
    }

    /// One address change as `mdad trace` tells it: `header From: a@x → b@y (canonical_maps …)`.
    static func change(_ place: String, _ before: String, _ after: String, _ steps: [String]) -> String {
        "\(place): <\(before)> → <\(after)>\(steps.isEmpty ? "" : " (" + steps.joined(separator: ", ") + ")")"
    }

    /// A header_checks or body_checks hit as `mdad trace` tells it.
    static func describe(_ e: ContentChecks.Event) -> String {
        let what: String
        switch e.action {
        case .reject(let status): what = "REJECT \(status.description)"
        case .discard(let t): what = "DISCARD \(t)"
        case .ignore: what = "IGNORE"
        case .replace(let t): what = "REPLACE \(t)"
        case .prepend(let t): what = "PREPEND \(t)"
        case .warn(let t): what = "WARN \(t)"
        case .info(let t): what = "INFO \(t)"
        case .hold(let t): what = "HOLD \(t)"
        case .none: what = "DUNNO"
        case .unsupported(let w): what = "\(w) (not supported; ignored)"
        case .invalid(let t): what = "unknown action \"\(t)\" (ignored)"
        }
        return "content checks matched \(e.place) \(e.text): \(what)"
    }

    enum Outcome {
        case reject(DeliveryStatus)
        case hold(DeliveryStatus)
        case discard
    }

    /// A header from an action's text (`Name: value`), or nil when it is not one or would
    /// break the header section.
    static func header(_ text: String, crlf: Bool = false) -> HeaderField? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = String(text[..<colon])
        let value = text[text.index(after: colon)...].trimmingWhitespace()
        return try? HeaderField(name: name, value: value, crlf: crlf)
    }
}

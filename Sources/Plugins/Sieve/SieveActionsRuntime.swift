import Pipeline

/// The commands of vacation, enotify, duplicate and editheader at run time.
extension SieveInterpreter {
    func vacation(_ spec: SieveVacationSpec) throws(SieveRuntimeError) {
        if result.actions.contains(where: { if case .vacation = $0 { return true } else { return false } }) {
            throw SieveRuntimeError("duplicate vacation action not allowed")
        }
        if result.actions.contains(where: { if case .reject = $0 { return true } else { return false } }) {
            throw SieveRuntimeError("vacation action conflicts with earlier reject/ereject action")
        }
        let l = env.limits
        var seconds = spec.seconds ?? l.defaultVacationPeriod
        if seconds != 0 || l.minVacationPeriod > 0 { seconds = min(max(seconds, l.minVacationPeriod), l.maxVacationPeriod) }
        let reason = try expand(spec.reason)
        let subject = try spec.subject.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) }
        let from = try spec.from.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) }
        // Pigeonhole's default handle: the reason, subject, from and :mime flag together.
        let handle = try spec.handle.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) }
            ?? reason + (subject ?? "<default-subject>") + (from ?? "<default-from>") + (spec.mime ? "<MIME>" : "<NO-MIME>")
        try addAction(.vacation(SieveVacation(seconds: seconds, subject: subject, from: from,
                                              addresses: try expand(spec.addresses), mime: spec.mime,
                                              handle: handle, reason: reason)))
    }

    func notify(_ spec: SieveNotifySpec) throws(SieveRuntimeError) {
        let method = try expand(spec.method)
        guard let recipients = SieveNotify.mailtoRecipients(method) else {
            throw SieveRuntimeError("notify action: invalid method '\(method)'")
        }
        let importance = Int(try spec.importance.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) } ?? "2") ?? 2
        let message = try spec.message.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) }
        let from = try spec.from.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) }
        let n = SieveNotification(method: method, from: from, importance: min(max(importance, 1), 3),
                                  options: try expand(spec.options), message: message, recipients: recipients)
        // One notification per method: a later one to the same URI is dropped (Pigeonhole).
        if result.actions.contains(where: { if case .notify(let o) = $0 { return o.method == method } else { return false } }) { return }
        try addAction(.notify(n))
    }

    /// The duplicate test (RFC 7352): true when the store saw this key within its period.
    func duplicate(_ spec: SieveDuplicateSpec) throws(SieveRuntimeError) -> Bool {
        var value: String
        if let u = spec.uniqueID { value = try expand(u) }
        else {
            let name = try spec.header.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) } ?? "Message-ID"
            guard let v = headerValues(name).first else { return false }
            value = v
        }
        value = value.trimmingCharacters()
        let handle = try spec.handle.map { (s: SieveString) throws(SieveRuntimeError) in try expand(s) } ?? ""
        let key = "duplicate\u{1}\(handle)\u{1}\(value)"
        let seen = env.duplicateSeen(key)
        let seconds = min(max(spec.seconds ?? 7 * 86_400, 0), 7 * 86_400)
        if !seen || spec.last {
            if !result.actions.contains(where: { if case .trackDuplicate(let k, _) = $0 { return k == key } else { return false } }) {
                result.actions.append(.trackDuplicate(key: key, seconds: seconds))
            }
        }
        return seen
    }

    // MARK: editheader (RFC 5293)

    static let protectedHeaders: Set<String> = ["received", "auto-submitted"]

    func addHeader(_ name: String, _ value: String, last: Bool) throws(SieveRuntimeError) {
        guard SieveStrings.isHeaderName(name) else { throw SieveRuntimeError("addheader action: specified field name `\(name)' is invalid") }
        if Self.protectedHeaders.contains(SieveStrings.asciiLower(name)) { return }
        let clean = String(value.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }.map(Character.init))
        guard header.count < 10_000 else { throw SieveRuntimeError("addheader action: too many header fields") }
        let field: HeaderField
        do { field = try HeaderField(name: name, multilineValue: EncodedWord.encodeIfNeeded(clean)) }
        catch { throw SieveRuntimeError("addheader action: \(error.description)") }
        if last { header.append(field) } else { header.insert(field, at: 0) }
        result.headerEdited = true
        headerChanged()
    }

    func deleteHeader(_ name: String, _ m: SieveMatcher?, index: SieveIndex?) throws(SieveRuntimeError) {
        guard SieveStrings.isHeaderName(name) else { throw SieveRuntimeError("deleteheader action: specified field name `\(name)' is invalid") }
        if Self.protectedHeaders.contains(SieveStrings.asciiLower(name)) { return }
        let positions = header.indices.filter { header[$0].hasName(name) }
        var chosen = positions
        if let index {
            guard index.index <= positions.count else { return }
            chosen = [positions[index.last ? positions.count - index.index : index.index - 1]]
        }
        var remove: [Int] = []
        for p in chosen {
            if let m {
                if try matchValues([EncodedWord.decode(header[p]).trimmingCharacters()], m) { remove.append(p) }
            } else {
                remove.append(p)
            }
        }
        for p in remove.reversed() { header.remove(at: p) }
        if !remove.isEmpty { result.headerEdited = true; headerChanged() }
    }
}

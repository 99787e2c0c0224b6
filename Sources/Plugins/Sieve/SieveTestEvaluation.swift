import Pipeline

/// Evaluating tests: the RFC 5228 ones and those extensions add.
extension SieveInterpreter {
    func evaluate(_ t: SieveTest) throws(SieveRuntimeError) -> Bool {
        try step()
        switch t {
        case .constant(let b): return b
        case .not(let inner): return !(try evaluate(inner))
        case .allof(let list):
            for x in list where !(try evaluate(x)) { return false }
            return true
        case .anyof(let list):
            for x in list where try evaluate(x) { return true }
            return false
        case .exists(let names):
            for n in try expand(names) where headerValues(n).isEmpty { return false }
            return true
        case .size(let over, let limit):
            let size = messageSize
            return over ? size > limit : size < limit
        case .header(let names, let m, let index, _):
            var values: [String] = []
            for n in try expand(names) { values += selectIndex(headerValues(n), index) }
            return try matchValues(values, m)
        case .address(let names, let part, let m, let index):
            var values: [String] = []
            for n in try expand(names) {
                for addresses in selectIndex(headerAddresses(n), index) {
                    for a in addresses {
                        if let p = SieveAddresses.part(a, part, delimiter: env.recipientDelimiter) { values.append(p) }
                    }
                }
            }
            return try matchValues(values, m)
        case .envelope(let parts, let part, let m):
            var values: [String] = []
            for p in try expand(parts) {
                let address: String?
                switch p.lowercased() {
                case "from": address = env.sender
                case "to": address = env.recipient
                default: address = nil
                }
                guard let address else { continue }
                if address.isEmpty {
                    // The null sender: only :all sees it, as the empty string.
                    if part == .all { values.append("") }
                    continue
                }
                if let v = SieveAddresses.part(SieveAddresses.split(address), part, delimiter: env.recipientDelimiter) { values.append(v) }
            }
            return try matchValues(values, m)
        case .string(let sources, let m):
            let values = try expand(sources)
            if case .count = m.type { return try matchValues(values.filter { !$0.isEmpty }, m) }
            return try matchValues(values, m)
        case .body(let transform, let m):
            return try matchValues(try bodyValues(transform), m)
        case .hasflag(let variables, let m):
            var values: [String] = []
            if variables.isEmpty { values = flags } else {
                for v in try expand(variables) { values += SieveFlags.parse([variableValue(v)]) }
            }
            return try matchValues(values, m)
        case .date(let name, let zone, let part, let m, let index):
            let fields = selectIndex(headerValues(try expand(name)), index)
            guard let text = fields.first, var moment = SieveDates.parse(text) else { return false }
            moment.offset = try offset(zone, moment)
            guard let v = SieveDates.part(try expand(part), of: moment) else { return false }
            return try matchValues([v], m)
        case .currentdate(let zone, let part, let m):
            var moment = SieveDates.Moment(epoch: env.now, offset: 0)
            moment.offset = try offset(zone, moment)
            guard let v = SieveDates.part(try expand(part), of: moment) else { return false }
            return try matchValues([v], m)
        case .mailboxexists(let names):
            for n in try expand(names) where n.uppercased() != "INBOX" && !env.mailboxExists(n) { return false }
            return true
        case .duplicate(let spec):
            return try duplicate(spec)
        case .validNotifyMethod(let uris):
            for u in try expand(uris) where SieveNotify.mailtoRecipients(u) == nil { return false }
            return true
        case .notifyMethodCapability(let uri, let capability, let m):
            guard SieveNotify.mailtoRecipients(try expand(uri)) != nil,
                  try expand(capability).lowercased() == "online" else { return false }
            return try matchValues(["maybe"], m)
        }
    }

    func offset(_ zone: SieveZone, _ m: SieveDates.Moment) throws(SieveRuntimeError) -> Int {
        switch zone {
        case .original: return m.offset
        case .local: return SieveDates.localOffset(at: m.epoch)
        case .fixed(let z): return SieveDates.zoneOffset(try expand(z)) ?? 0
        }
    }

    /// The message size as Dovecot counts it: line ends as CRLF.
    var messageSize: Int {
        if let s = cachedSize { return s }
        var bare = 0
        var prev: UInt8 = 0
        let start = message.envelopeFromLine?.count ?? 0
        try? message.spool.forEachChunk(from: start) { chunk in
            for b in chunk {
                if b == 10, prev != 13 { bare += 1 }
                prev = b
            }
        }
        let s = message.receivedSize + bare
        cachedSize = s
        return s
    }

    /// A header's values: unfolded, RFC 2047 words decoded, outer whitespace trimmed.
    func headerValues(_ name: String) -> [String] {
        let key = SieveStrings.asciiLower(name)
        if let cached = decodedHeaders[key] { return cached }
        if fieldIndex == nil {
            var index: [String: [Int]] = [:]
            for (i, f) in header.enumerated() { index[SieveStrings.asciiLower(f.name), default: []].append(i) }
            fieldIndex = index
        }
        let values = (fieldIndex?[key] ?? []).map { EncodedWord.decode(header[$0]).trimmingCharacters() }
        decodedHeaders[key] = values
        return values
    }

    /// The addresses of each field of that name (cached like the values).
    func headerAddresses(_ name: String) -> [[(local: String, domain: String?)]] {
        let key = SieveStrings.asciiLower(name)
        if let cached = parsedAddresses[key] { return cached }
        let parsed = headerValues(name).map(SieveAddresses.addresses(in:))
        parsedAddresses[key] = parsed
        return parsed
    }

    /// editheader changed the header: what was read from it must be read again.
    func headerChanged() {
        fieldIndex = nil
        decodedHeaders = [:]
        parsedAddresses = [:]
    }

    func selectIndex<T>(_ values: [T], _ index: SieveIndex?) -> [T] {
        guard let index else { return values }
        guard index.index <= values.count else { return [] }
        return [values[index.last ? values.count - index.index : index.index - 1]]
    }

    /// Matches values against the keys; sets the match variables on success.
    func matchValues(_ values: [String], _ m: SieveMatcher) throws(SieveRuntimeError) -> Bool {
        let keys = try expand(m.keys)
        if case .count(let r) = m.type {
            let count = Array(String(values.count).utf8)
            for k in keys where SieveMatch.relation(r, SieveMatch.order(count, Array(k.utf8), m.comparator)) { return true }
            return false
        }
        let capture = extensions.contains("variables") && (m.type == .matches || m.type == .regex)
        for v in values {
            for (i, k) in keys.enumerated() {
                try step()
                var caps: [String]? = capture ? [] : nil
                let re = m.type == .regex && i < m.regexes.count && m.keys[i].literal != nil ? m.regexes[i] : nil
                if try SieveMatch.match(v, key: k, regex: re, m, captures: &caps) {
                    if let caps { matchValues = caps }
                    return true
                }
            }
        }
        return false
    }

    func bodyValues(_ t: SieveBodyTransform) throws(SieveRuntimeError) -> [String] {
        switch t {
        case .raw:
            let raw = (try? message.spool.read(offset: message.bodyOffset, count: min(message.bodySize, 1 << 20))) ?? []
            return [String(decoding: raw, as: UTF8.self)]
        case .text:
            return [messageText?.body ?? ""]
        case .content(let types):
            let wanted = try expand(types).map(SieveStrings.asciiLower)
            guard let structure else { return [] }
            var out: [String] = []
            for part in structure.parts where part.isLeaf {
                let ct = part.contentType
                let type = SieveStrings.asciiLower(ct.type), full = type + "/" + SieveStrings.asciiLower(ct.subtype)
                guard wanted.contains(where: { $0.isEmpty || $0 == type || $0 == full }) else { continue }
                if let text = try? structure.text(of: part) { out.append(text) }
            }
            return out
        }
    }
}

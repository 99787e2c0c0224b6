import Pipeline

/// SpamAssassin's `$pms->get(…)` as header rules call it: the values of a header (or
/// pseudo-header) after the modifiers, joined into the one string the rule's regex sees.
extension SpamMessage {
    /// nil when the header is absent (a rule's `[if-unset: …]` then applies).
    func get(_ q: HeaderQuery, in fields: [Field]? = nil, registry: RegistryBoundaries? = nil,
             hostFinder: RegistryBoundaries.HostFinder? = nil) -> [UInt8]? {
        let fields = fields ?? self.fields
        var results: [[UInt8]] = []
        func header(_ key: String, raw: Bool) -> [[UInt8]] {
            // get_header(name, raw): raw values are unfolded ("\r?\n\s+" → " ").
            fields.filter { $0.key == key }.map { raw ? Self.unfoldRaw($0.raw) : $0.decoded + [10] }
        }
        switch q.name {
        case "ALL":
            for f in fields {
                if q.raw { results.append(Array(f.name.utf8) + [UInt8(ascii: ":")] + f.raw) } else {
                    results.append(Array(f.name.utf8) + Array(": ".utf8) + f.decoded + [10])
                }
            }
            return results.isEmpty ? nil : results.flatMap { $0 }
        case _ where q.name.lowercased() == "envelopefrom":
            if let e = envelopeFrom { results.append(Array(e.utf8)) }
        case _ where q.name.lowercased() == "tocc":
            results = header("to", raw: q.raw) + header("cc", raw: q.raw)
        case "MESSAGEID":
            for k in ["x-message-id", "resent-message-id", "x-original-message-id", "message-id"] {
                results += header(k, raw: q.raw).filter { !$0.isEmpty }
            }
        default:
            let key = q.name.lowercased()
            if q.raw || q.addr || q.displayName {
                results = fields.filter { $0.key == key }.map(\.raw)
            } else {
                results = header(key, raw: false)
            }
        }
        guard !results.isEmpty else { return nil }
        if q.first { results = [results[0]] } else if q.last { results = [results[results.count - 1]] }
        if q.addr || q.displayName {
            var out: [[UInt8]] = []
            for line in results {
                if q.displayName, q.raw {
                    // :name:raw is the phrase as written, encoded words not decoded; the address
                    // parser decodes them, so take the text before the angle bracket.
                    if let lt = line.firstIndex(of: UInt8(ascii: "<")) {
                        var phrase = String(decoding: line[..<lt], as: UTF8.self).trimmingWhitespace()
                        if phrase.count >= 2, phrase.hasPrefix("\""), phrase.hasSuffix("\"") { phrase = String(phrase.dropFirst().dropLast()) }
                        if !phrase.isEmpty { out.append(Array(phrase.utf8)) }
                    }
                    continue
                }
                for m in AddressList.parse(line).mailboxes {
                    if q.addr {
                        out.append(Array(m.address.utf8))
                    } else if let name = m.displayName {
                        var d = q.raw ? name : EncodedWord.decode(name)
                        d = d.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
                        if d.count >= 2, d.hasPrefix("'"), d.hasSuffix("'") { d = String(d.dropFirst().dropLast()) }
                        out.append(Array(d.utf8))
                    }
                }
            }
            results = out
        }
        if q.host || q.ip, !results.isEmpty {
            // The TLDs come from the rule files (util_rb_tld); without them nothing is a host.
            let rb = registry ?? RegistryBoundaries()
            results = results.compactMap { (line: [UInt8]) -> [UInt8]? in
                if q.host {
                    guard let h = rb.host(in: line, afterAddr: q.addr, finder: hostFinder) else { return nil }
                    return q.domain ? rb.trimDomain(h) : h
                }
                return RegistryBoundaries.ip(in: line, reversed: q.revip)
            }
        }
        guard !results.isEmpty else { return nil }
        // $hval = join($harr[0] =~ /\n\z/ ? "" : "\n", @harr)
        let separator: [UInt8] = results[0].last == 10 ? [] : [10]
        var joined: [UInt8] = []
        for (i, r) in results.enumerated() {
            if i > 0 { joined += separator }
            joined += r
        }
        return joined
    }

    static func unfoldRaw(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == 10, i + 1 < raw.count, isSpace(raw[i + 1]) {
                out.append(32)
                i += 1
                while i < raw.count, isSpace(raw[i]) { i += 1 }
                continue
            }
            out.append(raw[i])
            i += 1
        }
        return out
    }
}

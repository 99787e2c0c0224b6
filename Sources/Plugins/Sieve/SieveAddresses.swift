import Pipeline

/// Address parts (RFC 5228 2.7.4, RFC 5233 subaddress) of header and envelope addresses.
enum SieveAddresses {
    /// Whether a redirect target is a single address with a domain.
    static func isValidRedirect(_ s: String) -> Bool {
        let list = AddressList.parse(s)
        guard list.mailboxes.count == 1, !list.truncated, let m = list.mailboxes.first else { return false }
        return !m.localPart.isEmpty && !(m.domain ?? "").isEmpty
    }

    /// The bare address of a redirect target (`Name <a@b>` → `a@b`).
    static func bare(_ s: String) -> String {
        AddressList.parse(s).mailboxes.first?.address ?? s
    }

    /// The addresses a header value holds, as `local@domain` strings split in two.
    static func addresses(in value: String) -> [(local: String, domain: String?)] {
        let list = AddressList.parse(value)
        let found = list.mailboxes.filter { !$0.isNull }
        if found.isEmpty {
            let t = value.trimmingCharacters()
            return t.isEmpty ? [] : [(t, nil)]
        }
        return found.map { ($0.localPart, $0.domain) }
    }

    static func split(_ address: String) -> (local: String, domain: String?) {
        guard let at = address.lastIndex(of: "@") else { return (address, nil) }
        return (String(address[..<at]), String(address[address.index(after: at)...]))
    }

    /// The part a test compares; nil when the address has no such part (no detail).
    static func part(_ a: (local: String, domain: String?), _ p: SieveAddressPart, delimiter: String) -> String? {
        switch p {
        case .all: return a.domain.map { "\(a.local)@\($0)" } ?? a.local
        case .localpart: return a.local
        case .domain: return a.domain ?? ""
        case .user, .detail:
            guard !delimiter.isEmpty, let d = a.local.firstIndex(where: { delimiter.contains($0) }) else {
                return p == .user ? a.local : nil
            }
            return p == .user ? String(a.local[..<d]) : String(a.local[a.local.index(after: d)...])
        }
    }
}

/// enotify's mailto method (RFC 5436).
enum SieveNotify {
    /// The recipients of a `mailto:` URI with its `to=` header; nil when it is not a valid one.
    static func mailtoRecipients(_ uri: String) -> [String]? {
        guard uri.lowercased().hasPrefix("mailto:") else { return nil }
        let rest = uri.dropFirst(7)
        let q = rest.firstIndex(of: "?")
        let to = q.map { rest[..<$0] } ?? rest[...]
        var recipients: [String] = []
        for a in to.split(separator: ",") where !a.isEmpty {
            let addr = percentDecode(String(a))
            guard SieveAddresses.isValidRedirect(addr) else { return nil }
            recipients.append(SieveAddresses.bare(addr))
        }
        if let q {
            for (k, v) in headers(String(rest[rest.index(after: q)...])) where k == "to" {
                for a in v.split(separator: ",") {
                    guard SieveAddresses.isValidRedirect(String(a)) else { return nil }
                    recipients.append(SieveAddresses.bare(String(a)))
                }
            }
        }
        return recipients
    }

    /// The `?name=value&…` headers of a mailto URI, names lower-cased, values decoded.
    static func headers(_ query: String) -> [(String, String)] {
        query.split(separator: "&").compactMap { pair in
            guard let eq = pair.firstIndex(of: "=") else { return nil }
            let name = String(pair[..<eq]), value = String(pair[eq...].dropFirst())
            return (percentDecode(name).lowercased(), percentDecode(value))
        }
    }

    static func percentDecode(_ s: String) -> String {
        TransferDecoder.decodeHexEscapes(s, marker: "%")
    }
}

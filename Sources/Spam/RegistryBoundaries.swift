import Pipeline

/// The registry boundaries SpamAssassin reads from its rule files (`util_rb_tld`,
/// `util_rb_2tld`, `util_rb_3tld`, Debian's 20_aux_tlds.cf) and what header rules do with
/// them: the `:host`, `:domain`, `:ip` and `:revip` modifiers (PerMsgStatus `_get`):
///
/// - `:host` takes the first host-looking word that ends in a known TLD and is a valid
///   name, after an `@` first (the domain of an address), else anywhere in the value;
///   after `:addr`, simply what follows the last `@`.
/// - `:domain` cuts that host at the registry boundary (`www.foo.co.uk` → `foo.co.uk`).
/// - `:ip` takes the first IPv4 or IPv6 address; `:revip` reverses it for a DNS list.
struct RegistryBoundaries: Sendable {
    var validTLDs: Set<String> = []
    var twoLevel: Set<String> = []
    var threeLevel: Set<String> = []

    /// The US state codes that make `x.ca.us` a registry boundary (RFC 1480).
    static let usStates: Set<String> = Set("""
        ak al ar az ca co ct dc de fl ga gu hi ia id il in ks ky la ma md me mi mn mo ms mt nc nd ne nh nj nm nv ny oh ok
        or pa pr ri sc sd tn tx ut va vi vt wa wi wv wy
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// `util_rb_tld a b c`: names are kept lower-case (SpamAssassin keeps them as IDNA ASCII).
    mutating func add(_ directive: String, _ value: String) {
        let names = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
        switch directive {
        case "util_rb_tld": validTLDs.formUnion(names)
        case "util_rb_2tld": twoLevel.formUnion(names)
        case "util_rb_3tld": threeLevel.formUnion(names)
        default: break
        }
    }

    /// The host finder: `(?<![._-])(\S{1,251}\.TLDS)(?![._-])`, where TLDS is the TLD list
    /// bounded as RegistryBoundaries bounds it. Nil when no TLDs are defined (SpamAssassin's
    /// `no_tlds_defined` then never matches either).
    func compileHostFinder(limits: PCRERegex.Limits) -> HostFinder? {
        guard !validTLDs.isEmpty else { return nil }
        // Longest first, so an alternation never settles for a prefix of a longer TLD.
        let tlds = validTLDs.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
            .map { $0.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") } ? $0 : "\\Q\($0)\\E" }
        let tldsRE = "(?<![a-zA-Z0-9-])(?:" + tlds.joined(separator: "|") + ")(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9]))"
        let host = "(?<![._-])(\\S{1,251}\\.\(tldsRE))(?![._-])"
        guard let anywhere = try? PCRERegex(host, options: [.caseless], limits: limits),
              let afterAt = try? PCRERegex(".*@" + host, options: [.caseless], limits: limits)
        else { return nil }
        return HostFinder(anywhere: anywhere, afterAt: afterAt)
    }

    struct HostFinder: Sendable {
        let anywhere: PCRERegex
        let afterAt: PCRERegex
    }

    /// `:host` of one value.
    func host(in line: [UInt8], afterAddr: Bool, finder: HostFinder?) -> [UInt8]? {
        if afterAddr {
            // /.*\@(\S+)/: the non-blank run after the last "@" that has one.
            guard let at = line.lastIndex(of: UInt8(ascii: "@")) else { return nil }
            let rest = line[(at + 1)...].prefix { !SpamMessage.isSpace($0) }
            return rest.isEmpty ? nil : Array(rest)
        }
        guard let finder else { return nil }
        if let m = try? finder.afterAt.firstMatch(in: line), let r = m.groups[1] {
            let h = Array(line[r])
            if Self.isFQDNValid(h) { return h }
        }
        var from = 0
        var rounds = 0
        while from < line.count, rounds < 10_000, let m = try? finder.anywhere.firstMatch(in: line, from: from), let r = m.groups[1] {
            let h = Array(line[r])
            if Self.isFQDNValid(h) { return h }
            from = max(m.range.upperBound, from + 1)
            rounds += 1
        }
        return nil
    }

    /// Util::is_fqdn_valid for an ASCII name: at most 253 characters, two labels or more,
    /// each 1 to 63 of `[a-z0-9_-]` not starting or ending with `-`, no `_` in the last two.
    static func isFQDNValid(_ host: [UInt8]) -> Bool {
        var h = host.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        while h.last == UInt8(ascii: ".") { h.removeLast() }
        guard h.count <= 253 else { return false }
        let labels = h.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count > 1 else { return false }
        for (i, label) in labels.enumerated() {
            guard (1...63).contains(label.count) else { return false }
            func word(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 }
            guard word(label.first!), word(label.last!), label.allSatisfy({ word($0) || $0 == 45 }) else { return false }
            if i >= labels.count - 2, label.contains(95) { return false }
        }
        return true
    }

    /// RegistryBoundaries::trim_domain for an ASCII name.
    func trimDomain(_ host: [UInt8]) -> [UInt8] {
        // tr/././s and the leading and trailing dots: the empty labels go.
        var parts = String(decoding: host, as: UTF8.self).lowercased().split(separator: ".").map(String.init)
        guard !parts.isEmpty else { return [] }
        var hostParts: [String] = []
        while parts.count > 1 {
            if parts.count == 2 {
                if twoLevel.contains(parts.joined(separator: ".")) { break }
            } else if parts.count == 3 {
                if parts[2] == "us" {
                    if Self.usStates.contains(parts[1]) { break }
                } else if threeLevel.contains(parts.joined(separator: ".")) {
                    break
                }
            } else if parts.count == 4 {
                if parts[3] == "us", (parts[0] == "pvt" && parts[1] == "k12") || parts[0] == "ci" || parts[0] == "co", Self.usStates.contains(parts[2]) { break }
            }
            hostParts.append(parts.removeFirst())
        }
        if let last = hostParts.popLast() { parts.insert(last, at: 0) }
        return Array(parts.joined(separator: ".").utf8)
    }

    /// Constants.pm's IP_ADDRESS, bounded as `_get` bounds it: `(?<!\.)\b(IP)\b(?!\.)`.
    static let ipPattern: String = {
        let octet = "(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
        let v4 = "\(octet)\\.\(octet)\\.\(octet)\\.\(octet)"
        let h = "[a-f0-9]{1,4}"
        let mapped = "(?:(?:\(h):){6}|::(?:\(h):){0,5}|(?:\(h):){1,5}:|\(h)::(?:\(h):){1,4}|(?:\(h):){2}:(?:\(h):){1,3}|(?:\(h):){3}:(?:\(h):){1,2}|(?:\(h):){4}:\(h):)\(v4)"
        let v6 = "(?:\(h):){7}\(h)|:(?::\(h)){1,7}|(?:\(h):){1,7}:|\(h):(?::\(h)){1,6}|(?:\(h):){2}(?::\(h)){1,5}|(?:\(h):){3}(?::\(h)){1,4}"
            + "|(?:\(h):){4}(?::\(h)){1,3}|(?:\(h):){5}(?::\(h)){1,2}|(?:\(h):){6}:\(h)|::"
        let ip = "(?:\\b(?<!:)\(v4)\\b|(?:IPv6:|(?<![a-f0-9:]))(?:\(mapped)|\(v6))(?![a-f0-9:]))"
        return "(?<!\\.)\\b(\(ip))\\b(?!\\.)"
    }()

    static let ipFinder: PCRERegex? = try? PCRERegex(ipPattern, options: [.caseless])

    /// `:ip` (or `:revip`) of one value.
    static func ip(in line: [UInt8], reversed: Bool) -> [UInt8]? {
        guard let m = try? ipFinder?.firstMatch(in: line), let r = m.groups[1] else { return nil }
        // An "IPv6:" prefix stays, as in SpamAssassin (and then has no reversed form).
        let ip = String(decoding: line[r], as: UTF8.self)
        guard reversed else { return Array(ip.utf8) }
        let parts = ip.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isNumber) }) {
            return Array(parts.reversed().joined(separator: ".").utf8)
        }
        return reverseIPv6(ip).map { Array($0.utf8) }
    }

    /// RFC 5782 section 2.4: the 32 nibbles of the full address, reversed, dot-separated.
    static func reverseIPv6(_ ip: String) -> String? {
        guard ip.contains(":"), !ip.contains(".") else { return nil }
        let lower = ip.lowercased()
        var halves: [String] = []
        if let r = lower.firstRange(of: "::") {
            halves = [String(lower[..<r.lowerBound]), String(lower[r.upperBound...])]
            if halves[1].contains("::") { return nil }
        } else {
            halves = [lower]
        }
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [String] { s.isEmpty ? [] : s.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        let head = groups(halves[0]), tail = halves.count == 2 ? groups(halves[1]) : []
        let fill = 8 - head.count - tail.count
        guard halves.count == 2 ? fill >= 1 : fill == 0 else { return nil }
        let all = head + Array(repeating: "0", count: halves.count == 2 ? fill : 0) + tail
        guard all.count == 8, all.allSatisfy({ (1...4).contains($0.count) && $0.allSatisfy(\.isHexDigit) }) else { return nil }
        let nibbles = all.map { String(repeating: "0", count: 4 - $0.count) + $0 }.joined()
        return nibbles.reversed().map(String.init).joined(separator: ".")
    }
}

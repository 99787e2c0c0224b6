/// SpamAssassin's URI list for `uri` rules: every URI as written plus the canonical variants
/// `uri_list_canonicalize` adds (a scheme for schemeless links, `http://` completed, `\` as
/// `/`, a `/` before `?` or `#` after the host), without duplicates.
enum URIList {
    static func canonicalize(_ uris: [String], limit: Int) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        func add(_ u: String) {
            guard out.count < limit, seen.insert(u).inserted else { return }
            out.append(u)
        }
        for raw in uris {
            let uri = String(raw.filter { $0 != "\n" && $0 != "\r" }).trimmingWhitespace()
            guard uri.count > 1, !(uri.hasPrefix("#") || uri.hasPrefix("?") || uri.hasPrefix("&")),
                  !(uri.hasPrefix("/") && !uri.hasPrefix("//")) else { continue }
            add(uri)
            let lower = uri.lowercased()
            let beforeColon = uri.prefix { $0 != ":" }
            if lower.hasPrefix("mailto:") || beforeColon.contains("@") { continue }
            var n = uri.map { $0 == "\\" ? "/" : $0 }.reduce(into: "") { $0.append($1) }
            // ^(https?:)/{0,2} → $1//
            for scheme in ["http:", "https:"] where n.lowercased().hasPrefix(scheme) {
                var rest = n.dropFirst(scheme.count)
                var slashes = 0
                while rest.first == "/", slashes < 2 { rest = rest.dropFirst(); slashes += 1 }
                n = String(n.prefix(scheme.count)) + "//" + rest
            }
            if !hasScheme(n) { n = (n.hasPrefix("ftp.") ? "ftp://" : "http://") + n }
            // A "/" between the host and a query or fragment.
            if let r = n.firstRange(of: "://"), n.lowercased().hasPrefix("http") {
                let hostStart = r.upperBound
                if let q = n[hostStart...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }), n[q] != "/" {
                    n.insert("/", at: q)
                }
            }
            if n != uri { add(n) }
        }
        return out
    }

    /// `^[-_a-z0-9]+:` case-insensitively.
    static func hasScheme(_ s: String) -> Bool {
        var sawChar = false
        for c in s.unicodeScalars {
            if c == ":" { return sawChar }
            guard c.isASCII, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" else { return false }
            sawChar = true
        }
        return false
    }

    /// E-mail addresses in rendered text, as `mailto:` URIs (SpamAssassin's text URI parser
    /// finds them without a scheme).
    static func mailAddresses(in text: String, limit: Int) -> [String] {
        let u = Array(text.utf8)
        var out: [String] = []
        func isLocal(_ b: UInt8) -> Bool { isWord(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") }
        func isWord(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || ((b | 0x20) >= 97 && (b | 0x20) <= 122) || b == UInt8(ascii: "_") }
        var i = 0
        while i < u.count, out.count < limit {
            guard u[i] == UInt8(ascii: "@"), i > 0 else { i += 1; continue }
            var s = i
            while s > 0, isLocal(u[s - 1]) { s -= 1 }
            var e = i + 1
            while e < u.count, isWord(u[e]) || u[e] == UInt8(ascii: "-") || u[e] == UInt8(ascii: ".") { e += 1 }
            while e > i + 1, u[e - 1] == UInt8(ascii: ".") || u[e - 1] == UInt8(ascii: "-") { e -= 1 }
            let domain = u[(i + 1)..<e]
            if s < i, domain.contains(UInt8(ascii: ".")), s == 0 || u[s - 1] != UInt8(ascii: ":") {
                out.append("mailto:" + String(decoding: u[s..<e], as: UTF8.self))
            }
            i = e
        }
        return out
    }
}

/// An SMTP or LMTP path with its ESMTP parameters (RFC 5321 section 4.1.2), shared by the
/// LMTP server and `sendmail -bs`.
public enum SMTPPath {
    /// `<path> [KEY=VALUE …]`; returns the path inside the angle brackets. A quoted local part
    /// may contain `>` and spaces.
    public static func parse(_ text: Substring) -> (String, [String: String])? {
        guard text.first == "<" else { return nil }
        var inQuotes = false
        var escaped = false
        var end: Substring.Index?
        var i = text.index(after: text.startIndex)
        while i < text.endIndex {
            let c = text[i]
            if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inQuotes.toggle() } else if c == ">" && !inQuotes { end = i; break }
            i = text.index(after: i)
        }
        guard let close = end else { return nil }
        var path = String(text[text.index(after: text.startIndex)..<close])
        // An obsolete source route (@a,@b:user@host) is accepted and ignored (RFC 5321 4.1.2).
        if path.hasPrefix("@"), let colon = path.firstIndex(of: ":") { path = String(path[path.index(after: colon)...]) }
        var params: [String: String] = [:]
        for word in text[text.index(after: close)...].split(separator: " ") {
            if let eq = word.firstIndex(of: "=") {
                params[word[..<eq].uppercased()] = String(word[word.index(after: eq)...])
            } else {
                params[word.uppercased()] = ""
            }
        }
        return (path, params)
    }

    /// RFC 3461 xtext: `+XX` is a hexadecimal octet.
    public static func decodeXtext(_ text: String) -> String {
        TransferDecoder.decodeHexEscapes(text, marker: "+")
    }

    /// RFC 3461 xtext for the wire: `+`, `=`, controls, space and non-ASCII bytes as `+XX`.
    public static func encodeXtext(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            if b >= 33 && b <= 126 && b != UInt8(ascii: "+") && b != UInt8(ascii: "=") {
                out.append(b)
            } else {
                out += [UInt8(ascii: "+"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

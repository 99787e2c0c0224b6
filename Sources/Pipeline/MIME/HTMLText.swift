/// HTML turned into the text a reader sees, for rules that test body text (SpamAssassin's
/// `body` rules read rendered text, not markup), plus the links in it.
///
/// This is a tokenizer, not a browser: tags are removed, `script`, `style` and comments are
/// dropped with their content, block elements become line breaks, character references are
/// decoded, and runs of blanks collapse to one space as HTML rendering collapses them.
public enum HTMLText {
    /// How text is laid out.
    public enum Style: Sendable {
        /// For a reader: block elements end a line, blanks collapse.
        case reader
        /// As SpamAssassin's HTML renderer (Mail::SpamAssassin::HTML) lays it out, so that its
        /// `body` rules hit the same places: `br` and `div` give a line break, `p`, `hr`,
        /// `blockquote`, `pre` and `title` (opening and closing) an empty line, table cells and
        /// list items a space; `title` text is kept; runs of blanks in text become one space.
        case spamAssassin
    }

    /// The text and the links (`href`, `src`, `action` attribute values) of an HTML document.
    public static func convert(_ html: String, style: Style = .reader) -> (text: String, links: [String]) {
        let s = Array(html.unicodeScalars)
        var out = String.UnicodeScalarView()
        var links: [String] = []
        var i = 0
        let n = s.count
        var pendingSpace = false
        var atLineStart = true
        // SpamAssassin style: text since the last tag, and whether the last chunk written was
        // layout white space (which eats the blank that follows or precedes it).
        var chunk = String.UnicodeScalarView()
        var lastWasLayout = false

        func flushChunk() {
            guard !chunk.isEmpty else { return }
            var collapsed = String.UnicodeScalarView()
            var blank = false
            for c in chunk {
                if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" || c == "\u{0B}" || c == "\u{A0}" { blank = true; continue }
                if blank { collapsed.append(" "); blank = false }
                collapsed.append(c)
            }
            if blank { collapsed.append(" ") }
            if lastWasLayout, collapsed.first == " " { collapsed.removeFirst() }
            out.append(contentsOf: collapsed)
            if !collapsed.isEmpty { lastWasLayout = false }
            chunk = String.UnicodeScalarView()
        }
        func layout(_ ws: String) {
            flushChunk()
            if !lastWasLayout, out.last == " " { out.removeLast() }
            out.append(contentsOf: ws.unicodeScalars)
            lastWasLayout = true
        }

        func emit(_ c: Unicode.Scalar) {
            if style == .spamAssassin { chunk.append(c); return }
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" {
                pendingSpace = true
                return
            }
            if pendingSpace && !atLineStart { out.append(" ") }
            pendingSpace = false
            atLineStart = false
            out.append(c)
        }
        func lineBreak() {
            if !atLineStart { out.append("\n") }
            atLineStart = true
            pendingSpace = false
        }

        while i < n {
            let c = s[i]
            // A tag opens with '<' and a letter, '/', '!' or '?' (HTML's tag open state);
            // "5 < 6" is text.
            if c == "<", i + 1 < n, s[i + 1].properties.isAlphabetic || s[i + 1] == "/" || s[i + 1] == "!" || s[i + 1] == "?" {
                // Comment.
                if i + 3 < n, s[i + 1] == "!", s[i + 2] == "-", s[i + 3] == "-" {
                    i = find(s, "-->", from: i + 4).map { $0 + 3 } ?? n
                    continue
                }
                // A tag is at most `maxTagLength` long: a '<' with no '>' after it is text, and
                // a run of them cannot make the scan quadratic.
                guard let close = findScalar(s, ">", from: i + 1, limit: maxTagLength) else { emit(c); i += 1; continue }
                let tag = Array(s[(i + 1)..<close])
                let name = tagName(tag)
                i = close + 1
                if name == "script" || name == "style" || (name == "title" && style == .reader) {
                    i = find(s, "</", from: i, thenName: name) ?? n
                    continue
                }
                if style == .spamAssassin {
                    let bare = name.hasPrefix("/") ? String(name.dropFirst()) : name
                    if let ws = spamAssassinWhitespace[bare] { layout(ws) } else { flushChunk() }
                } else if blockElements.contains(name) { lineBreak() }
                for attr in ["href", "src", "action"] {
                    if let v = attribute(attr, in: tag), !v.isEmpty { links.append(decodeEntities(v)) }
                }
                continue
            }
            if c == "&" {
                let (scalar, next) = entity(s, at: i)
                if let scalar {
                    for u in scalar.unicodeScalars { emit(u) }
                    i = next
                    continue
                }
            }
            emit(c)
            i += 1
        }
        if style == .spamAssassin {
            flushChunk()
            return (String(out), links)
        }
        while let last = out.last, last == "\n" { out.removeLast() }
        return (String(out), links)
    }

    /// Mail::SpamAssassin::HTML's `html_whitespace`, applied to opening and closing tags.
    static let spamAssassinWhitespace: [String: String] = [
        "br": "\n", "div": "\n",
        "li": " ", "th": " ", "td": " ", "dd": " ", "dt": " ", "embed": " ",
        "h1": " ", "h2": " ", "h3": " ", "h4": " ", "h5": " ", "h6": " ",
        "p": "\n\n", "hr": "\n\n", "blockquote": "\n\n", "pre": "\n\n", "listing": "\n\n", "plaintext": "\n\n",
        "xmp": "\n\n", "title": "\n\n",
    ]

    static let blockElements: Set<String> = [
        "br", "p", "/p", "div", "/div", "tr", "/tr", "li", "/li", "ul", "/ul", "ol", "/ol", "table", "/table",
        "h1", "h2", "h3", "h4", "h5", "h6", "/h1", "/h2", "/h3", "/h4", "/h5", "/h6", "hr", "blockquote",
        "/blockquote", "pre", "/pre", "td", "th", "dt", "dd", "body", "/body", "html", "/html", "section", "/section",
    ]

    static func tagName(_ tag: [Unicode.Scalar]) -> String {
        var name = String.UnicodeScalarView()
        var j = 0
        while j < tag.count, tag[j] == " " { j += 1 }
        while j < tag.count, tag[j] != " ", tag[j] != "\t", tag[j] != "\n", tag[j] != "\r", tag[j] != ">" {
            if tag[j] == "/" && !name.isEmpty { break }
            name.append(tag[j])
            j += 1
            if name.count > 16 { break }
        }
        return String(name).lowercased()
    }

    static let maxTagLength = 8192

    static func findScalar(_ s: [Unicode.Scalar], _ c: Unicode.Scalar, from: Int, limit: Int = .max) -> Int? {
        var j = from
        let end = limit >= s.count - from ? s.count : from + limit
        while j < end { if s[j] == c { return j }; j += 1 }
        return nil
    }

    static func find(_ s: [Unicode.Scalar], _ needle: String, from: Int) -> Int? {
        let nd = Array(needle.unicodeScalars)
        var j = from
        while j + nd.count <= s.count {
            if s[j] == nd[0], Array(s[j..<(j + nd.count)]) == nd { return j }
            j += 1
        }
        return nil
    }

    /// The position after `</name…>`, case-insensitive.
    static func find(_ s: [Unicode.Scalar], _ open: String, from: Int, thenName name: String) -> Int? {
        var j = from
        while let k = find(s, open, from: j) {
            let end = min(s.count, k + 2 + name.unicodeScalars.count)
            if String(String.UnicodeScalarView(s[(k + 2)..<end])).lowercased() == name {
                return (findScalar(s, ">", from: end) ?? s.count - 1) + 1
            }
            j = k + 2
        }
        return nil
    }

    /// An attribute value inside a tag (quoted with " or ', or bare).
    static func attribute(_ name: String, in tag: [Unicode.Scalar]) -> String? {
        let lower = String(String.UnicodeScalarView(tag)).lowercased()
        let ls = Array(lower.unicodeScalars)
        guard ls.count == tag.count else { return nil }
        var from = 0
        while let k = find(ls, name, from: from) {
            from = k + 1
            // Must be a whole attribute name.
            guard k > 0, ls[k - 1] == " " || ls[k - 1] == "\t" || ls[k - 1] == "\n" || ls[k - 1] == "\r" else { continue }
            var j = k + name.unicodeScalars.count
            while j < tag.count, tag[j] == " " { j += 1 }
            guard j < tag.count, tag[j] == "=" else { continue }
            j += 1
            while j < tag.count, tag[j] == " " { j += 1 }
            guard j < tag.count else { return nil }
            var v = String.UnicodeScalarView()
            if tag[j] == "\"" || tag[j] == "'" {
                let q = tag[j]
                j += 1
                while j < tag.count, tag[j] != q { v.append(tag[j]); j += 1 }
            } else {
                while j < tag.count, tag[j] != " ", tag[j] != "\t", tag[j] != "\n", tag[j] != "\r" { v.append(tag[j]); j += 1 }
            }
            return String(v).trimmingWhitespace()
        }
        return nil
    }

    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "sect": "§", "deg": "°", "middot": "·",
        "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”",
        "laquo": "«", "raquo": "»", "bull": "•", "times": "×", "divide": "÷", "auml": "ä", "ouml": "ö", "uuml": "ü",
        "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü", "szlig": "ß", "eacute": "é", "egrave": "è", "agrave": "à",
        "aacute": "á", "ccedil": "ç", "ntilde": "ñ", "oacute": "ó", "iacute": "í", "uacute": "ú", "zwnj": "\u{200C}",
        "shy": "\u{AD}",
    ]

    /// A character reference at `i` (`&name;`, `&#NN;`, `&#xHH;`) and the position after it.
    static func entity(_ s: [Unicode.Scalar], at i: Int) -> (String?, Int) {
        var j = i + 1
        var body = String.UnicodeScalarView()
        while j < s.count, j - i < 12, s[j] != ";" {
            let c = s[j]
            guard c.properties.isAlphabetic || (c >= "0" && c <= "9") || c == "#" else { break }
            body.append(c)
            j += 1
        }
        let name = String(body)
        let end = j < s.count && s[j] == ";" ? j + 1 : j
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            if let value, let u = Unicode.Scalar(value), value != 0 { return (String(u), end) }
            return (nil, i + 1)
        }
        if let v = namedEntities[name] { return (v, end) }
        return (nil, i + 1)
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let s = Array(text.unicodeScalars)
        var out = ""
        var i = 0
        while i < s.count {
            if s[i] == "&" {
                let (v, next) = entity(s, at: i)
                if let v { out += v; i = next; continue }
            }
            out.unicodeScalars.append(s[i])
            i += 1
        }
        return out
    }
}

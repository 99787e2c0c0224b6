import Pipeline

/// procmail's `$` and quote processing (procmailrc(5), "Environment variable assignments"):
/// `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alternative}`,
/// `${VAR+alternative}`, `$\VAR` (quoted for a regular expression), `$$`, `$#`, `$1`…`$9`,
/// `$@`, `$=`, `$_`, `$-`; "double", 'single' and `backquoted` parts.
extension ProcmailInterpreter {
    enum ExpansionMode {
        /// A value: quotes processed, one word.
        case value
        /// An action line: quotes processed, split into words at unquoted blanks.
        case words
        /// A `$` condition: sh's rules inside double quotes (quotes kept, `\` kept unless it
        /// escapes `$`, `\`, `"` or a backquote).
        case condition
    }

    /// The longest text an expansion may produce.
    static let maximumExpansion = 1 << 20

    func expand(_ raw: String, _ mode: ExpansionMode) -> [String] {
        let s = Array(raw.utf8)
        var words: [[UInt8]] = []
        var cur: [UInt8] = []
        var inWord = false
        var i = 0
        var inDouble = false
        func flush() { if inWord { words.append(cur) }; cur = []; inWord = false }
        func add(_ b: [UInt8]) { if cur.count + b.count <= Self.maximumExpansion { cur += b }; inWord = true }
        while i < s.count {
            let c = s[i]
            if mode != .condition && !inDouble && c == UInt8(ascii: "'") {
                let end = s[(i + 1)...].firstIndex(of: c) ?? s.count
                add(Array(s[(i + 1)..<end]))
                i = end + 1
                continue
            }
            if mode != .condition && c == UInt8(ascii: "\"") {
                inDouble.toggle()
                inWord = true
                i += 1
                continue
            }
            if c == UInt8(ascii: "`") {
                var j = i + 1
                var cmd: [UInt8] = []
                while j < s.count, s[j] != c {
                    if s[j] == UInt8(ascii: "\\"), j + 1 < s.count { cmd.append(s[j + 1]); j += 2; continue }
                    cmd.append(s[j]); j += 1
                }
                let inner = expand(String(decoding: cmd, as: UTF8.self), .condition).joined()
                add(backquote(inner))
                i = j + 1
                continue
            }
            if c == UInt8(ascii: "\\"), i + 1 < s.count {
                let n = s[i + 1]
                if mode == .condition || inDouble {
                    if n == UInt8(ascii: "$") || n == UInt8(ascii: "\\") || n == UInt8(ascii: "\"") || n == UInt8(ascii: "`") {
                        add([n])
                    } else if n == 10 {
                        // continuation: nothing
                    } else {
                        add([c, n])
                    }
                } else {
                    add([n])
                }
                i += 2
                continue
            }
            if c == UInt8(ascii: "$") {
                let (text, used) = reference(s, at: i)
                if used > 0 {
                    add(Array(text.utf8))
                    i += used
                    continue
                }
            }
            if mode == .words && !inDouble && (c == 32 || c == 9 || c == 10) {
                flush()
                i += 1
                continue
            }
            add([c])
            i += 1
        }
        flush()
        let out = words.map { String(decoding: $0, as: UTF8.self) }
        if mode == .words { return out }
        return [out.joined()]
    }

    /// One `$` reference at `i`: its text and how many bytes it took (0: a literal `$`).
    func reference(_ s: [UInt8], at i: Int) -> (String, Int) {
        guard i + 1 < s.count else { return ("", 0) }
        let n = s[i + 1]
        switch n {
        case UInt8(ascii: "$"): return (String(processID), 2)
        case UInt8(ascii: "#"): return (String(arguments.count), 2)
        case UInt8(ascii: "@"): return (arguments.joined(separator: " "), 2)
        case UInt8(ascii: "="): return (String(lastScore), 2)
        case UInt8(ascii: "_"): return (currentRC, 2)
        case UInt8(ascii: "-"): return (variable("LASTFOLDER") ?? "", 2)
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            let k = Int(n - 48)
            return (k <= arguments.count ? arguments[k - 1] : "", 2)
        case UInt8(ascii: "\\"):
            var j = i + 2
            while j < s.count, ProcmailParser.isNameByte(s[j]) { j += 1 }
            guard j > i + 2 else { return ("", 0) }
            let name = String(decoding: s[(i + 2)..<j], as: UTF8.self)
            return ("()" + Self.regexQuoted(variable(name) ?? ""), j - i)
        case UInt8(ascii: "{"):
            guard let close = matchingBrace(s, from: i + 2) else { return ("", 0) }
            let inner = Array(s[(i + 2)..<close])
            var k = 0
            while k < inner.count, ProcmailParser.isNameByte(inner[k]) { k += 1 }
            let name = String(decoding: inner[..<k], as: UTF8.self)
            let value = variable(name)
            let rest = inner[k...]
            if rest.isEmpty { return (value ?? "", close + 1 - i) }
            var op = String(decoding: rest.prefix(2), as: UTF8.self)
            var word = Array(rest.dropFirst(2))
            if !(op == ":-" || op == ":+") {
                op = String(decoding: rest.prefix(1), as: UTF8.self)
                word = Array(rest.dropFirst(1))
            }
            let alt = { self.expand(String(decoding: word, as: UTF8.self), .value).joined() }
            switch op {
            case ":-": return ((value ?? "").isEmpty ? alt() : value!, close + 1 - i)
            case "-": return (value == nil ? alt() : value!, close + 1 - i)
            case ":+": return ((value ?? "").isEmpty ? "" : alt(), close + 1 - i)
            case "+": return (value == nil ? "" : alt(), close + 1 - i)
            default: return (value ?? "", close + 1 - i)
            }
        default:
            var j = i + 1
            while j < s.count, ProcmailParser.isNameByte(s[j]) { j += 1 }
            guard j > i + 1 else { return ("", 0) }
            return (variable(String(decoding: s[(i + 1)..<j], as: UTF8.self)) ?? "", j - i)
        }
    }

    func matchingBrace(_ s: [UInt8], from start: Int) -> Int? {
        var depth = 1
        var j = start
        while j < s.count {
            if s[j] == UInt8(ascii: "{") { depth += 1 }
            if s[j] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { return j } }
            j += 1
        }
        return nil
    }

    /// A value quoted so that procmail's regular expressions match it literally.
    static func regexQuoted(_ v: String) -> String {
        var out = ""
        for c in v {
            if "\\^$.[]|()*+?{}/".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// `` `command` ``: its output, trailing newlines removed; the mail on its input.
    func backquote(_ command: String) -> [UInt8] {
        guard let r = runner().run(command, input: mail.commandInput(header: true, body: true)) else {
            log("procmail: Failed forking \"\(command)\"\n")
            return []
        }
        var out = r.output
        while out.last == 10 { out.removeLast() }
        return out
    }
}

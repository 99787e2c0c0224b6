import Pipeline

/// Reads procmailrc(5) text into a ``ProcmailRC``: assignments, recipes with their flags,
/// lockfile, conditions and action, and nested `{ … }` blocks. Values and action lines stay
/// as written (quotes and `$` references are the expander's job at run time); regular
/// expressions without `$` are compiled here, once.
public struct ProcmailParser {
    let file: String
    let text: [UInt8]
    var pos = 0
    var line = 1
    var statements = 0

    public static func parse(_ bytes: [UInt8], file: String) throws(ProcmailParseError) -> ProcmailRC {
        var p = ProcmailParser(file: file, text: bytes)
        let items = try p.items(depth: 0)
        return ProcmailRC(file: file, items: items)
    }

    func fail(_ message: String, line l: Int? = nil) -> ProcmailParseError {
        ProcmailParseError(file: file, line: l ?? line, message: message)
    }

    var atEnd: Bool { pos >= text.count }
    var current: UInt8 { text[pos] }

    mutating func advance() {
        if text[pos] == 10 { line += 1 }
        pos += 1
    }

    static func isBlank(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 13 }
    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95
    }

    mutating func skipBlanks() { while !atEnd, Self.isBlank(current) { pos += 1 } }
    mutating func skipToLineEnd() { while !atEnd, current != 10 { pos += 1 } }
    /// Skips blanks, newlines and comment lines.
    mutating func skipSpace() {
        while !atEnd {
            if Self.isBlank(current) || current == 10 { advance() } else if current == UInt8(ascii: "#") { skipToLineEnd() } else { break }
        }
    }

    /// The rest of the logical line: `\` before a newline continues it (the next line's
    /// leading blanks dropped unless `keepNewline`, which keeps the backslash-newline for the shell).
    mutating func restOfLine(keepNewline: Bool = false) -> String {
        var out: [UInt8] = []
        while !atEnd, current != 10 {
            if current == UInt8(ascii: "\\"), pos + 1 < text.count, text[pos + 1] == 10 {
                if keepNewline { out += [92, 10] }
                pos += 1
                advance()
                if !keepNewline { skipBlanks() }
                continue
            }
            out.append(current)
            pos += 1
        }
        if !atEnd { advance() }
        while let l = out.last, Self.isBlank(l) { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func items(depth: Int) throws(ProcmailParseError) -> [ProcmailItem] {
        guard depth <= ProcmailRC.maximumNesting else { throw fail("blocks nested more than \(ProcmailRC.maximumNesting) deep") }
        var out: [ProcmailItem] = []
        while true {
            skipSpace()
            if atEnd {
                if depth > 0 { throw fail("end of file inside a block; expected '}'") }
                return out
            }
            if current == UInt8(ascii: "}") {
                guard depth > 0 else { throw fail("'}' without a block to close") }
                pos += 1
                return out
            }
            statements += 1
            guard statements <= ProcmailRC.maximumStatements else {
                throw fail("more than \(ProcmailRC.maximumStatements) statements")
            }
            if current == UInt8(ascii: ":") {
                out.append(.recipe(try recipe(depth: depth)))
            } else if Self.isNameByte(current) {
                out.append(try assignment())
            } else {
                throw fail("unexpected '\(Character(UnicodeScalar(current)))'; expected an assignment (NAME=value) or a recipe (:0)")
            }
        }
    }

    mutating func name() -> String {
        let start = pos
        while !atEnd, Self.isNameByte(current) { pos += 1 }
        return String(decoding: text[start..<pos], as: UTF8.self)
    }

    mutating func assignment() throws(ProcmailParseError) -> ProcmailItem {
        let l = line
        let n = name()
        skipBlanks()
        guard !atEnd, current == UInt8(ascii: "=") else {
            if atEnd || current == 10 || current == UInt8(ascii: "#") {
                skipToLineEnd()
                return .assignment(name: n, value: nil, line: l)
            }
            throw fail("expected '=' after \(n)")
        }
        pos += 1
        skipBlanks()
        return .assignment(name: n, value: try word(), line: l)
    }

    /// One value as written: quoted parts may span lines; unquoted blanks, a newline or `#`
    /// after a blank end it. `\` + newline continues it.
    mutating func word() throws(ProcmailParseError) -> String {
        let start = line
        var out: [UInt8] = []
        var braces = 0
        while !atEnd {
            let c = current
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "`") {
                out.append(c)
                pos += 1
                while true {
                    guard !atEnd else { throw fail("unterminated \(Character(UnicodeScalar(c))) quote", line: start) }
                    let d = current
                    if d == UInt8(ascii: "\\"), c != UInt8(ascii: "'"), pos + 1 < text.count {
                        out.append(d); pos += 1
                        out.append(current); advance()
                        continue
                    }
                    out.append(d)
                    advance()
                    if d == c { break }
                }
                continue
            }
            if c == UInt8(ascii: "\\"), pos + 1 < text.count {
                if text[pos + 1] == 10 { pos += 1; advance(); continue }
                out += [c, text[pos + 1]]
                pos += 2
                continue
            }
            if c == UInt8(ascii: "$"), pos + 1 < text.count, text[pos + 1] == UInt8(ascii: "{") { braces += 1 }
            if c == UInt8(ascii: "}"), braces > 0 {
                braces -= 1
                out.append(c)
                pos += 1
                continue
            }
            if c == 10 || (braces == 0 && (Self.isBlank(c) || c == UInt8(ascii: "}"))) { break }
            out.append(c)
            pos += 1
        }
        // What follows the value on its line (more words, a comment) is ignored, as procmail does.
        skipBlanks()
        if !atEnd, current != UInt8(ascii: "}") { skipToLineEnd() }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func recipe(depth: Int) throws(ProcmailParseError) -> ProcmailRecipe {
        let l = line
        pos += 1   // ':'
        var header = restOfLine()
        if let hash = header.firstIndex(of: "#") { header = String(header[..<hash]) }
        // `:0` (or the obsolete `:N` condition count, read as 0) then flags, then `:lockfile`.
        var rest = Substring(header)
        while let f = rest.first, f.isNumber { rest.removeFirst() }
        var flagText = ""
        var lock: String? = nil
        if let colon = rest.firstIndex(of: ":") {
            flagText = String(rest[..<colon])
            lock = rest[rest.index(after: colon)...].trimmingWhitespace()
        } else {
            flagText = String(rest)
        }
        let flags: ProcmailFlags
        do { flags = try ProcmailFlags(flagText.filter { $0 != " " && $0 != "\t" }) } catch { throw fail(error.text, line: l) }

        var conditions: [ProcmailCondition] = []
        while true {
            skipSpace()
            guard !atEnd else { throw fail("recipe without an action", line: l) }
            guard current == UInt8(ascii: "*") else { break }
            let cl = line
            pos += 1
            conditions.append(try condition(restOfLine(), line: cl, caseSensitive: flags.caseSensitive))
        }
        let al = line
        let action: ProcmailAction
        switch current {
        case UInt8(ascii: "{"):
            pos += 1
            action = .block(try items(depth: depth + 1))
        case UInt8(ascii: "!"):
            pos += 1
            action = .forward(restOfLine().trimmingWhitespace())
        case UInt8(ascii: "|"):
            pos += 1
            // procmail keeps the blanks after `|` (LASTFOLDER shows them).
            var command = Substring(restOfLine(keepNewline: true))
            while let last = command.last, last == " " || last == "\t" || last == "\n" { command.removeLast() }
            action = .pipe(String(command))
        case UInt8(ascii: "}"):
            throw fail("recipe without an action before '}'", line: l)
        default:
            let save = (pos, line)
            if Self.isNameByte(current) {
                let n = name()
                skipBlanks()
                if !atEnd, current == UInt8(ascii: "=") {
                    pos += 1
                    skipBlanks()
                    if !atEnd, current == UInt8(ascii: "|") {
                        pos += 1
                        action = .capture(n, command: restOfLine(keepNewline: true).trimmingWhitespace())
                        break
                    }
                }
                (pos, line) = save
            }
            action = .folders(restOfLine())
        }
        if flags.filter, case .pipe = action {} else if flags.filter {
            throw fail("the f flag needs a '|' action", line: l)
        }
        return ProcmailRecipe(line: l, flags: flags, lockfile: lock, conditions: conditions, action: action, actionLine: al)
    }

    func condition(_ raw: String, line l: Int, caseSensitive: Bool) throws(ProcmailParseError) -> ProcmailCondition {
        var s = Substring(raw).drop { $0 == " " || $0 == "\t" }
        var weight: (Double, Double)? = nil
        // `w^x` scoring.
        if let caret = s.firstIndex(of: "^"), caret > s.startIndex,
           let w = Double(s[..<caret]), s[..<caret].allSatisfy({ "+-.0123456789".contains($0) }) {
            let after = s[s.index(after: caret)...]
            let num = after.prefix { "+-.0123456789".contains($0) }
            if let x = Double(num), !num.isEmpty {
                weight = (w, x)
                s = after.dropFirst(num.count).drop { $0 == " " || $0 == "\t" }
            }
        }
        var negate = false, expand = false
        while let f = s.first {
            if f == "!" { negate.toggle() } else if f == "$" { expand = true } else { break }
            s = s.dropFirst().drop { $0 == " " || $0 == "\t" }
        }
        let body = String(s)
        let kind: ProcmailCondition.Kind
        if body.hasPrefix("?") {
            kind = .program(String(body.dropFirst()).trimmingWhitespace())
        } else if body.hasPrefix("<") || body.hasPrefix(">") {
            let n = body.dropFirst().trimmingWhitespace()
            guard let bytes = Int(n) else { throw fail("expected a size in bytes after '\(body.first!)'", line: l) }
            kind = .size(less: body.hasPrefix("<"), bytes: bytes)
        } else if let (v, re) = Self.variableCondition(body) {
            kind = .variable(v, expand ? nil : try compile(re, caseSensitive, l), text: re)
        } else {
            var re = body
            if re.hasPrefix("\\") { re.removeFirst() }   // `\!`, `\$`: a literal first character
            kind = .regex(expand ? nil : try compile(re, caseSensitive, l), text: re)
        }
        return ProcmailCondition(line: l, kind: kind, negate: negate, expand: expand,
                                 weight: weight, text: raw.trimmingWhitespace())
    }

    /// `NAME ?? regex`: the name and the regex, when the condition has that form.
    static func variableCondition(_ body: String) -> (String, String)? {
        let b = Array(body.utf8)
        var i = 0
        while i < b.count, isNameByte(b[i]) { i += 1 }
        guard i > 0 else { return nil }
        let name = String(decoding: b[..<i], as: UTF8.self)
        while i < b.count, isBlank(b[i]) { i += 1 }
        guard i + 1 < b.count, b[i] == UInt8(ascii: "?"), b[i + 1] == UInt8(ascii: "?") else { return nil }
        return (name, String(decoding: b[(i + 2)...], as: UTF8.self).trimmingWhitespace())
    }

    func compile(_ re: String, _ caseSensitive: Bool, _ l: Int) throws(ProcmailParseError) -> ProcmailRegex {
        do { return try ProcmailRegex(re, caseSensitive: caseSensitive) } catch {
            throw fail("bad regular expression \"\(re)\": \(error.message)", line: l)
        }
    }
}

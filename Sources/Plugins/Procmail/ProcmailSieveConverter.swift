import Pipeline

/// `mdad rules convert`: a procmailrc as a Sieve script (RFC 5228 with `fileinto`, `copy`,
/// `regex`), for the recipes Sieve can express; every recipe or statement it cannot convert is
/// listed with its file, line and the reason, and left out of the script.
///
/// What converts: header conditions of the form `^Field:rest` (and `^(A|B):rest`, `^TO_`,
/// `^TO`) as `header :regex`, `!` as `not`, `<`/`>` as `size`, the `D` flag as the octet
/// comparator; folder actions under MAILDIR as `fileinto` (the folder name relative to
/// MAILDIR), `/dev/null` as `discard`, `! address …` as `redirect`; a recipe without `c`
/// ends with `stop`, one with `c` uses `:copy`; nested blocks become nested `if`s.
public struct ProcmailSieveConverter {
    public struct Skipped: Sendable, Equatable, CustomStringConvertible {
        public let file: String
        public let line: Int
        public let reason: String
        public var description: String { "\(file), line \(line): not converted: \(reason)" }
    }

    public private(set) var skipped: [Skipped] = []
    var requires: Set<String> = []
    var maildir: String? = nil
    let file: String

    public static func convert(_ rc: ProcmailRC) -> (script: String, skipped: [Skipped]) {
        var c = ProcmailSieveConverter(file: rc.file)
        let body = c.items(rc.items, indent: "")
        var head = "# Converted from \(rc.file) by mdad rules convert.\n"
        if !c.requires.isEmpty {
            head += "require [" + c.requires.sorted().map { "\"\($0)\"" }.joined(separator: ", ") + "];\n"
        }
        return (head + body, c.skipped)
    }

    mutating func skip(_ line: Int, _ reason: String) { skipped.append(Skipped(file: file, line: line, reason: reason)) }

    /// Assignments Sieve has no need of (logging, the shell, paths) are dropped silently;
    /// DEFAULT is Sieve's implicit keep.
    static let harmless: Set<String> = ["DEFAULT", "LOGFILE", "LOG", "VERBOSE", "LOGABSTRACT", "SHELL", "PATH", "COMSAT",
                                        "LOCKTIMEOUT", "UMASK", "SENDMAIL", "SENDMAILFLAGS", "LINEBUF"]

    mutating func items(_ items: [ProcmailItem], indent: String) -> String {
        var out = ""
        for item in items {
            switch item {
            case .assignment(let name, let value, let line):
                if name == "MAILDIR", let v = value, !v.contains("`") {
                    maildir = v.replacingHome()
                } else if !Self.harmless.contains(name) {
                    skip(line, "the assignment \(name)=… has no Sieve equivalent")
                }
            case .recipe(let r):
                out += recipe(r, indent: indent)
            }
        }
        return out
    }

    mutating func recipe(_ r: ProcmailRecipe, indent: String) -> String {
        let f = r.flags
        if f.chainAnd || f.chainAndSucceeded || f.elseIf || f.elseIfFailed {
            skip(r.line, "the A, a, E and e flags depend on earlier recipes' outcomes"); return ""
        }
        if f.body { skip(r.line, "body conditions (B) match differently in Sieve's body test"); return "" }
        var tests: [String] = []
        for c in r.conditions {
            guard let t = condition(c, caseSensitive: f.caseSensitive) else { return "" }
            tests.append(t)
        }
        var action = ""
        let inner = indent + "    "
        switch r.action {
        case .block(let items):
            let saved = maildir
            action = self.items(items, indent: inner)
            maildir = saved
            if f.copy { skip(r.line, "a `c` block clones procmail's run; its contents are converted as a plain block") }
        case .pipe:
            skip(r.line, f.filter ? "filters (f) change the message; Sieve cannot run commands"
                                  : "pipes to commands have no Sieve equivalent"); return ""
        case .capture:
            skip(r.line, "VAR=| captures have no Sieve equivalent"); return ""
        case .forward(let text):
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !words.isEmpty, words.allSatisfy({ $0.contains("@") && !$0.hasPrefix("-") && !$0.contains("$") }) else {
                skip(r.line, "the forward needs sendmail flags or variables"); return ""
            }
            if f.copy { requires.insert("copy") }
            for w in words { action += inner + "redirect\(f.copy ? " :copy" : "") \(quoted(w));\n" }
            if !f.copy { action += inner + "stop;\n" }
        case .folders(let text):
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var names: [String] = []
            for w in words {
                if w == "/dev/null" { names.append(""); continue }
                guard let n = folderName(w) else {
                    skip(r.line, "the folder \(w) is not a mailbox under MAILDIR (or uses variables)"); return ""
                }
                names.append(n)
            }
            if names == [""] {
                action = inner + "discard;\n" + (f.copy ? "" : inner + "stop;\n")
            } else {
                requires.insert("fileinto")
                if f.copy { requires.insert("copy") }
                for n in names where !n.isEmpty { action += inner + "fileinto\(f.copy ? " :copy" : "") \(quoted(n));\n" }
                if !f.copy { action += inner + "stop;\n" }
            }
        }
        let test = tests.isEmpty ? "true" : tests.count == 1 ? tests[0] : "allof(" + tests.joined(separator: ", ") + ")"
        return "\(indent)# \(file), line \(r.line)\n\(indent)if \(test) {\n\(action)\(indent)}\n"
    }

    /// A folder name relative to MAILDIR: `name`, `name/` and `name/.` give `name`.
    func folderName(_ w: String) -> String? {
        guard !w.contains("$"), !w.contains("`") else { return nil }
        var n = w
        if n.hasSuffix("/.") { n.removeLast(2) } else if n.hasSuffix("/") { n.removeLast() }
        if n.hasPrefix("/") {
            guard let base = maildir, n.hasPrefix(base + "/") else { return nil }
            n = String(n.dropFirst(base.count + 1))
        }
        return n.isEmpty || n.hasPrefix("..") ? nil : n
    }

    mutating func condition(_ c: ProcmailCondition, caseSensitive: Bool) -> String? {
        if c.weight != nil { skip(c.line, "weighted conditions (w^x) have no Sieve equivalent"); return nil }
        if c.expand { skip(c.line, "$ conditions depend on variables"); return nil }
        let not = c.negate ? "not " : ""
        switch c.kind {
        case .program: skip(c.line, "? conditions run commands"); return nil
        case .variable: skip(c.line, "?? conditions test variables"); return nil
        case .size(let less, let n): return not + "size \(less ? ":under" : ":over") \(less ? n : n)"
        case .regex(_, let text):
            guard let (fields, rest) = headerPattern(text) else {
                skip(c.line, "the condition \(text) is not of the form ^Field:…"); return nil
            }
            if rest.contains("\\/") { skip(c.line, "MATCH (\\/) has no Sieve equivalent"); return nil }
            requires.insert("regex")
            let comparator = caseSensitive ? " :comparator \"i;octet\"" : ""
            let list = fields.count == 1 ? quoted(fields[0]) : "[" + fields.map(quoted).joined(separator: ", ") + "]"
            return not + "header :regex\(comparator) \(list) \(quoted(sieveRegex(rest)))"
        }
    }

    static let toFields = ["To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc", "Original-To",
                           "X-Envelope-To", "Apparently-To", "Apparently-Resent-To"]

    /// `^Field:rest`, `^(A|B):rest`, `^TO_rest`, `^TOrest`: the fields and the rest.
    func headerPattern(_ text: String) -> ([String], String)? {
        if text.hasPrefix("^TO_") { return (Self.toFields, "(.*[^-a-zA-Z0-9_.])?" + text.dropFirst(4)) }
        if text.hasPrefix("^TO") && !text.hasPrefix("^TO:") { return (Self.toFields, "(.*[^a-zA-Z])?" + text.dropFirst(3)) }
        guard text.hasPrefix("^"), let colon = text.firstIndex(of: ":") else { return nil }
        var name = String(text[text.index(after: text.startIndex)..<colon])
        if name.hasPrefix("("), name.hasSuffix(")") { name = String(name.dropFirst().dropLast()) }
        let fields = name.split(separator: "|").map(String.init)
        guard !fields.isEmpty, fields.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } }) else { return nil }
        return (fields, String(text[text.index(after: colon)...]))
    }

    /// The rest of a procmail header pattern as a POSIX regex on Sieve's header value (which
    /// has its leading blanks removed and no newline): anchored where the colon was.
    func sieveRegex(_ rest: String) -> String {
        var r = Substring(rest)
        // Leading blanks (literal or ` *`) are gone from Sieve's value.
        while true {
            if r.hasPrefix(" *") || r.hasPrefix("[ \t]*") { r = r.dropFirst(r.hasPrefix(" *") ? 2 : 5); continue }
            if r.hasPrefix(" ") { r = r.dropFirst(); continue }
            break
        }
        var out = "^"
        var prev: Character? = nil
        for ch in r {
            if ch == "$" && prev != "\\" { out += "$" } else if ch == "{" || ch == "}" { out += "\\" + String(ch) } else { out.append(ch) }
            prev = ch
        }
        return out
    }

    func quoted(_ s: String) -> String {
        "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

private extension String {
    func replacingHome() -> String {
        guard hasPrefix("$HOME/") || hasPrefix("${HOME}/") else { return self }
        return "~/" + split(separator: "/", maxSplits: 1).last.map(String.init)!
    }
}

import Pipeline

/// A Perl regex literal as SpamAssassin rule files write it (`/re/flags`, `m{re}flags`,
/// `m!re!i` …), compiled by PCRE2.
///
/// SpamAssassin matches its rules against byte strings (UTF-8 encoded text), so patterns are
/// compiled in PCRE2's byte mode, not UTF mode: `.` is one byte, `[\xc0-\xff]` is a byte range
/// and `\w` is ASCII, as in Perl on byte strings. A pattern that byte mode refuses (`\x{263a}`)
/// is tried once more in UTF mode.
struct PerlRegex {
    /// The pattern between the delimiters.
    let pattern: String
    /// The modifiers after the closing delimiter.
    let flags: String

    /// Parses a literal at the start of `text`; `rest` is what follows it.
    static func parse(_ text: Substring) -> (regex: PerlRegex, rest: Substring)? {
        var s = text.drop { $0 == " " || $0 == "\t" }
        if s.hasPrefix("m"), let d = s.dropFirst().first, !d.isLetter, !d.isNumber, !d.isWhitespace {
            s = s.dropFirst()
        } else if s.first != "/" {
            return nil
        }
        guard let open = s.first else { return nil }
        let close: Character = switch open { case "{": "}"; case "(": ")"; case "[": "]"; case "<": ">"; default: open }
        var i = s.index(after: s.startIndex)
        var depth = 0
        var body = ""
        while i < s.endIndex {
            let c = s[i]
            if c == "\\" {
                let n = s.index(after: i)
                guard n < s.endIndex else { return nil }
                // The escape is kept: `\/` and `\{` mean the character itself to PCRE2 too.
                body.append(c)
                body.append(s[n])
                i = s.index(after: n)
                continue
            }
            if open != close, c == open { depth += 1 }
            if c == close {
                if depth == 0 { break }
                depth -= 1
            }
            body.append(c)
            i = s.index(after: i)
        }
        guard i < s.endIndex else { return nil }
        var j = s.index(after: i)
        var flags = ""
        while j < s.endIndex, s[j].isLetter { flags.append(s[j]); j = s.index(after: j) }
        return (PerlRegex(pattern: body, flags: flags), s[j...])
    }

    var options: PCRERegex.Options {
        var o: PCRERegex.Options = []
        for f in flags {
            switch f {
            case "i": o.insert(.caseless)
            case "m": o.insert(.multiline)
            case "s": o.insert(.dotAll)
            case "x": o.insert(.extended)
            default: break
            }
        }
        return o
    }

    /// Modifiers PCRE2 has no equivalent for (`e`, `r`, …; `g` and `o` mean nothing for a test).
    var unsupportedFlags: String { String(flags.filter { !"imsxgo".contains($0) }) }

    /// Compiles the pattern, as several regexes when it is too large for PCRE2 in one piece
    /// (``AlternationSplitter``); the rule matches where any of them matches.
    func compileAll(limits: PCRERegex.Limits, depth: Int = 0) -> Result<[PCRERegex], RegexProblem> {
        switch compile(limits: limits) {
        case .success(let r): return .success([r])
        case .failure(let e):
            guard e.reason.contains("too large"), depth < 6,
                  let parts = AlternationSplitter.split(pattern, chunkSize: AlternationSplitter.chunkSize >> depth) else { return .failure(e) }
            var out: [PCRERegex] = []
            for part in parts {
                switch PerlRegex(pattern: part, flags: flags).compileAll(limits: limits, depth: depth + 1) {
                case .success(let r): out += r
                case .failure(let e2): return .failure(RegexProblem(e.reason + "; split in \(parts.count), a part still fails: " + e2.reason))
                }
            }
            return .success(out)
        }
    }

    /// Compiles the pattern; the error says why PCRE2 cannot take it.
    func compile(limits: PCRERegex.Limits) -> Result<PCRERegex, RegexProblem> {
        if !unsupportedFlags.isEmpty { return .failure(RegexProblem("modifier /\(unsupportedFlags) has no PCRE2 equivalent")) }
        if pattern.contains("(?{") || pattern.contains("(??{") { return .failure(RegexProblem("embedded Perl code (?{…}) is Perl-only")) }
        do {
            return .success(try PCRERegex(pattern, options: options, limits: limits))
        } catch let byteError {
            // Code points above 255 exist only in UTF mode.
            if let r = try? PCRERegex(pattern, options: options.union(.utf), limits: limits) { return .success(r) }
            return .failure(RegexProblem(byteError.message + " at offset \(byteError.offset ?? 0)"))
        }
    }
}

/// Why a rule's regex could not be compiled.
struct RegexProblem: Error, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

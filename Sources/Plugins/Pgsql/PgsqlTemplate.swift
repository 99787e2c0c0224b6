import Pipeline

/// The `%` expansions of pgsql_table(5) (Postfix's db_common): `%s` the key, `%u` its local
/// part (the whole key when it has no `@`), `%d` its domain, `%S %U %D` the same in a query,
/// `%1`…`%9` the domain's labels from the right, `%%` a percent sign.
///
/// The key never enters the SQL text. Postfix splices an escaped key into the query; mdad turns
/// the query into a statement with parameters once, when the table is opened: each quoted
/// literal that contains expansions (`'%s'`, `'%u@%d'`) becomes one parameter `$n` whose value
/// is the literal's text with the expansions filled in, and an expansion outside quotes becomes
/// a parameter of its own. The parameters are sent without a type, so the server infers it
/// exactly as it would for the quoted literal Postfix sends.
struct PgsqlQueryTemplate: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case text(String)
        case expansion(Character)
    }

    /// The statement, with `$1`, `$2`, … where the parameters go.
    let sql: String
    /// Each parameter's value as pieces to fill in from the key.
    let parameters: [[Piece]]
    let needs: KeyNeeds

    /// What the key must have for the query to run at all (otherwise it is "not found").
    struct KeyNeeds: Sendable, Equatable {
        var localPart = false
        var domain = false
        var labels = 0

        mutating func note(_ c: Character) {
            switch c {
            case "u", "U": localPart = true
            case "d", "D": domain = true
            case "1"..."9": domain = true; labels = max(labels, Int(String(c))!)
            default: break
            }
        }
    }

    static let queryExpansions: Set<Character> = ["s", "u", "d", "S", "U", "D", "1", "2", "3", "4", "5", "6", "7", "8", "9"]

    init(_ query: String, file: String) throws(ConfigError) {
        var sql = ""
        var parameters: [[Piece]] = []
        var needs = KeyNeeds()
        let chars = Array(query)
        var i = 0

        func expansion(at j: Int) throws(ConfigError) -> Character? {
            guard j + 1 < chars.count else {
                throw ConfigError(file: file, "'%' at the end of the query; expected %s, %u, %d, %S, %U, %D, %1-%9 or %%")
            }
            let c = chars[j + 1]
            if c == "%" { return nil }
            guard PgsqlQueryTemplate.queryExpansions.contains(c) else {
                throw ConfigError(file: file, "invalid query template: unknown expansion %\(c); expected %s, %u, %d, %S, %U, %D, %1-%9 or %%")
            }
            needs.note(c)
            return c
        }

        while i < chars.count {
            let c = chars[i]
            if c == "'" {
                // A standard string literal; '' is a quote inside it. An E'' string (backslash
                // escapes) may not hold expansions: its text would need a second unescaping.
                let escapeString = i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e")
                var pieces: [Piece] = []
                var literal = ""
                var raw = "'"
                var j = i + 1
                var closed = false
                while j < chars.count {
                    let d = chars[j]
                    if escapeString && d == "\\" && j + 1 < chars.count {
                        raw.append(d); raw.append(chars[j + 1]); literal.append(d); literal.append(chars[j + 1]); j += 2; continue
                    }
                    if d == "'" {
                        if j + 1 < chars.count && chars[j + 1] == "'" {
                            raw += "''"; literal.append("'"); j += 2; continue
                        }
                        raw.append("'"); closed = true; j += 1; break
                    }
                    if d == "%" {
                        if let e = try expansion(at: j) {
                            if escapeString {
                                throw ConfigError(file: file, "expansion %\(e) inside an E'' string; use a plain '...' string")
                            }
                            if !literal.isEmpty { pieces.append(.text(literal)); literal = "" }
                            pieces.append(.expansion(e))
                        } else {
                            literal.append("%"); raw.append("%")
                        }
                        j += 2; continue
                    }
                    raw.append(d); literal.append(d); j += 1
                }
                guard closed else { throw ConfigError(file: file, "unterminated quote in the query; expected a closing '") }
                if pieces.isEmpty {
                    sql += raw
                } else {
                    if !literal.isEmpty { pieces.append(.text(literal)) }
                    parameters.append(pieces)
                    sql += "$\(parameters.count)"
                }
                i = j
            } else if c == "\"" {
                // A quoted identifier: copied as it is; an expansion there would splice the key
                // into the SQL, which mdad never does.
                guard let end = chars[(i + 1)...].firstIndex(of: "\"") else {
                    throw ConfigError(file: file, "unterminated \" in the query; expected a closing \"")
                }
                var j = i
                while j <= end {
                    if chars[j] == "%" {
                        guard j + 1 <= end, chars[j + 1] == "%" else {
                            throw ConfigError(file: file, "expansion inside the quoted identifier \(String(chars[i...end])); the key can only be a value")
                        }
                        j += 1
                    }
                    sql.append(chars[j])
                    j += 1
                }
                i = end + 1
            } else if c == "%" {
                if let e = try expansion(at: i) {
                    parameters.append([.expansion(e)])
                    sql += "$\(parameters.count)"
                } else {
                    sql.append("%")
                }
                i += 2
            } else {
                sql.append(c)
                i += 1
            }
        }
        self.sql = sql
        self.parameters = parameters
        self.needs = needs
    }

    /// The parameter values for `key`, or nil when Postfix would suppress the query (an empty
    /// key, `%d` for a key without a domain, `%u` for an empty local part, too few labels).
    func bind(_ key: PgsqlKey) -> [String]? {
        guard !key.whole.isEmpty, key.satisfies(needs) else { return nil }
        return parameters.map { pieces in
            var v = ""
            for p in pieces {
                switch p {
                case .text(let t): v += t
                case .expansion(let e): v += key.expand(e)!
                }
            }
            return v
        }
    }
}

/// A key split as db_common splits it: at the last `@`.
struct PgsqlKey: Sendable {
    let whole: String
    let local: String?
    let domain: String?

    init(_ key: String) {
        whole = key
        if let at = key.lastIndex(of: "@") {
            local = String(key[..<at])
            domain = String(key[key.index(after: at)...])
        } else {
            local = nil
            domain = nil
        }
    }

    /// Domain labels as Postfix's argv_split gives them (empty labels dropped).
    var labels: [Substring] { (domain ?? "").split(separator: ".") }

    func satisfies(_ needs: PgsqlQueryTemplate.KeyNeeds) -> Bool {
        if needs.domain && (domain ?? "").isEmpty { return false }
        if needs.localPart && local == "" { return false }
        if needs.labels > 0 && labels.count < needs.labels { return false }
        return true
    }

    /// The value of one expansion letter; nil when the key lacks that part.
    func expand(_ c: Character) -> String? {
        switch c {
        case "s", "S": return whole
        case "u", "U": return local ?? whole
        case "d", "D": return domain
        case "1"..."9":
            let n = Int(String(c))!, l = labels
            return n <= l.count ? String(l[l.count - n]) : nil
        default: return nil
        }
    }
}

/// `result_format` (default `%s`): applied to every non-empty column of every row; the results
/// joined with "," as Postfix's db_common joins them. Lower-case `%s %u %d` expand the value,
/// upper-case `%S %U %D` and `%1`…`%9` the key.
struct PgsqlResultFormat: Sendable, Equatable {
    let pieces: [PgsqlQueryTemplate.Piece]
    var valueNeeds = PgsqlQueryTemplate.KeyNeeds()
    var keyNeeds = PgsqlQueryTemplate.KeyNeeds()

    init(_ format: String, file: String) throws(ConfigError) {
        var pieces: [PgsqlQueryTemplate.Piece] = []
        var text = ""
        var it = format.makeIterator()
        while let c = it.next() {
            guard c == "%" else { text.append(c); continue }
            guard let e = it.next() else { throw ConfigError(file: file, "'%' at the end of result_format; expected %s, %u, %d, %S, %U, %D, %1-%9 or %%") }
            if e == "%" { text.append("%"); continue }
            guard PgsqlQueryTemplate.queryExpansions.contains(e) else {
                throw ConfigError(file: file, "invalid result_format: unknown expansion %\(e); expected %s, %u, %d, %S, %U, %D, %1-%9 or %%")
            }
            if !text.isEmpty { pieces.append(.text(text)); text = "" }
            pieces.append(.expansion(e))
            switch e {
            case "u", "d": valueNeeds.note(e)
            case "S": break
            case "U": keyNeeds.note("u")
            default: keyNeeds.note(e == "D" ? "d" : e)
            }
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
    }

    /// One value formatted, or nil when it is skipped (empty, or lacking a part the format uses).
    func format(_ value: String, key: PgsqlKey) -> String? {
        guard !value.isEmpty else { return nil }
        let v = PgsqlKey(value)
        if valueNeeds.domain && (v.domain ?? "").isEmpty { return nil }
        if valueNeeds.localPart && v.local == "" { return nil }
        guard key.satisfies(keyNeeds) else { return nil }
        var out = ""
        for p in pieces {
            switch p {
            case .text(let t): out += t
            case .expansion(let e):
                switch e {
                case "s", "u", "d": out += v.expand(e)!
                case "S", "U", "D": out += key.expand(Character(e.lowercased()))!
                default: out += key.expand(e)!
                }
            }
        }
        return out
    }
}

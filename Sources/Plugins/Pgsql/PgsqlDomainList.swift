import Pipeline

/// pgsql_table(5)'s `domain`: only keys `user@domain` with a non-empty user and a domain on this
/// list are looked up; every other key is "not found" without a query. Items are domain names
/// (matched whole and without case, as Postfix's string_list matches them, so a parent domain
/// does not match its subdomains), `/file/name` (a file of such items), `type:table` (the domain
/// is a key of that table) and `!item` (an exclusion; the first item that matches decides).
struct PgsqlDomainList: Sendable {
    enum Item: Sendable {
        case name(String, negated: Bool)
        case table(any LookupTable, negated: Bool)
    }

    let items: [Item]

    var isEmpty: Bool { items.isEmpty }

    init(_ words: [String], file: String, depth: Int = 0) throws(ConfigError) {
        var items: [Item] = []
        for var word in words {
            var negated = false
            while word.hasPrefix("!") { negated.toggle(); word.removeFirst() }
            if word.hasPrefix("/") {
                guard depth < 4 else { throw ConfigError(file: file, "domain: \(word) is nested too deeply; expected at most 4 levels of files") }
                let bytes: [UInt8]
                do {
                    bytes = try Posix.readFile(word, limit: 16 << 20)
                } catch {
                    throw ConfigError(file: file, "domain: cannot open \(word): \(error)")
                }
                let text = String(decoding: bytes, as: UTF8.self)
                let lines = text.split(separator: "\n").filter { !$0.trimmingWhitespace().hasPrefix("#") }
                let inner = try PgsqlDomainList(lines.flatMap { Configuration.splitList(String($0)) }, file: word, depth: depth + 1)
                // A negated file negates each of its items, as Postfix's match_list does.
                items += inner.items.map { item in
                    switch item {
                    case .name(let n, let neg): .name(n, negated: neg != negated)
                    case .table(let t, let neg): .table(t, negated: neg != negated)
                    }
                }
            } else if TableRegistry.builtin.isTable(word) {
                items.append(.table(try TableRegistry.builtin.open(word), negated: negated))
            } else {
                items.append(.name(word.lowercased(), negated: negated))
            }
        }
        self.items = items
    }

    /// Whether `domain` is on the list; a table that cannot answer throws.
    func matches(_ domain: String) throws(TableError) -> Bool {
        let d = domain.lowercased()
        for item in items {
            switch item {
            case .name(let n, let negated):
                if n == d { return !negated }
            case .table(let t, let negated):
                if try t.lookup(d) != nil { return !negated }
            }
        }
        return false
    }
}

/// `texthash:/path`: Postfix's text table format read directly, no `postmap` needed.
///
/// As postmap(1) reads a source file: `key whitespace value` per line; empty lines and lines
/// starting with `#` are ignored; a line starting with whitespace continues the line above;
/// keys are case-insensitive (folded to lower case); a duplicate key keeps the first value,
/// with a warning, as Postfix does. The file is read once, when the table is opened.
public struct TextHashTable: TableWithWarnings {
    public let name: String
    let entries: [String: String]
    /// Postfix would warn about these lines (file, line and what was expected).
    public let warnings: [ConfigError]

    public init(path: String, name: String) throws(ConfigError) {
        self.name = name
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path, limit: 256 << 20)
        } catch {
            throw ConfigError(file: path, "\(name): cannot open table: \(error)")
        }
        let parsed = TextHashTable.parse(String(decoding: bytes, as: UTF8.self), file: path)
        self.entries = parsed.entries
        self.warnings = parsed.warnings
    }

    public init(text: String, name: String) {
        self.name = name
        let parsed = TextHashTable.parse(text, file: name)
        self.entries = parsed.entries
        self.warnings = parsed.warnings
    }

    /// A parsed source file: entries in file order (for building compiled tables).
    public struct Parsed: Sendable {
        public var entries: [String: String]
        public var ordered: [(String, String)]
        public var warnings: [ConfigError]
    }

    /// Parses postmap's source format; with `replace` a later duplicate wins (postmap -r).
    public static func parse(_ text: String, file: String, replace: Bool) -> Parsed {
        let (entries, warnings, order) = parseOrdered(text, file: file, replace: replace)
        return Parsed(entries: entries, ordered: order.map { ($0, entries[$0]!) }, warnings: warnings)
    }

    public var count: Int { entries.count }

    public func lookup(_ key: String) throws(TableError) -> String? { entries[key.lowercased()] }

    static func parse(_ text: String, file: String) -> (entries: [String: String], warnings: [ConfigError]) {
        let (entries, warnings, _) = parseOrdered(text, file: file, replace: false)
        return (entries, warnings)
    }

    static func parseOrdered(_ text: String, file: String, replace: Bool)
        -> (entries: [String: String], warnings: [ConfigError], order: [String]) {
        var order: [String] = []
        var entries: [String: String] = [:]
        var warnings: [ConfigError] = []
        var logical: [(text: String, line: Int)] = []
        var number = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if line.first == " " || line.first == "\t" {
                if logical.isEmpty {
                    warnings.append(ConfigError(file: file, line: number, "logical line must not start with whitespace"))
                } else {
                    // As Postfix's readlline: the continuation line is appended as it is,
                    // leading whitespace included.
                    logical[logical.count - 1].text += String(line)
                }
                continue
            }
            logical.append((String(line), number))
        }
        for (text, line) in logical {
            guard let split = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                warnings.append(ConfigError(file: file, line: line, "expected format: key whitespace value"))
                continue
            }
            let key = String(text[..<split]).lowercased()
            let value = text[split...].trimmingWhitespace()
            if entries[key] != nil {
                if replace { entries[key] = value } else {
                    // Postfix names the file, not the line, for a duplicate.
                    warnings.append(ConfigError(file: file, "duplicate entry: \"\(key)\""))
                }
                continue
            }
            entries[key] = value
            order.append(key)
        }
        return (entries, warnings, order)
    }
}

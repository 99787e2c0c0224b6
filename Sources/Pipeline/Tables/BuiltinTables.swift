/// `static:value`: every key has the same value (`virtual_uid_maps = static:5000`).
/// `static:{ value with spaces }` keeps the spaces, as in Postfix.
public struct StaticTable: LookupTable {
    public let name: String
    public let value: String

    public init(argument: String, name: String) {
        self.name = name
        var v = argument
        if v.hasPrefix("{"), v.hasSuffix("}") { v = String(v.dropFirst().dropLast()).trimmingWhitespace() }
        self.value = v
    }

    public func lookup(_ key: String) throws(TableError) -> String? { value }
}

/// `inline:{ key=value, { key = value with spaces }, … }` (Postfix 3.0): a table written in
/// the parameter itself. Keys are case-insensitive.
public struct InlineTable: LookupTable {
    public let name: String
    let entries: [String: String]

    public init(argument: String, name: String) throws(ConfigError) {
        self.name = name
        let a = argument.trimmingWhitespace()
        guard a.hasPrefix("{"), a.hasSuffix("}") else {
            throw ConfigError("\(name): expected inline:{ key=value, ... }")
        }
        var entries: [String: String] = [:]
        for item in TableRegistry.splitInlineItems(String(a.dropFirst().dropLast())) {
            var text = item
            if text.hasPrefix("{"), text.hasSuffix("}") { text = String(text.dropFirst().dropLast()).trimmingWhitespace() }
            guard let eq = text.firstIndex(of: "=") else {
                throw ConfigError("\(name): \"\(text)\" has no '='; expected key=value")
            }
            let key = text[..<eq].trimmingWhitespace().lowercased()
            guard !key.isEmpty else { throw ConfigError("\(name): empty key in \"\(text)\"") }
            if entries[key] == nil { entries[key] = text[text.index(after: eq)...].trimmingWhitespace() }
        }
        self.entries = entries
    }

    public func lookup(_ key: String) throws(TableError) -> String? { entries[key.lowercased()] }
}

extension TableRegistry {
    /// Splits inline table items on commas and whitespace outside braces; `key = value` with
    /// spaces around `=` is joined back.
    static func splitInlineItems(_ body: String) -> [String] {
        let items = splitOutsideBraces(body) { $0 == "," }
        // "a=b c=d" without commas: split on whitespace between complete key=value items.
        return items.flatMap { item -> [String] in
            if item.hasPrefix("{") { return [item] }
            let words = item.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.count > 1 && words.allSatisfy({ $0.contains("=") && !$0.hasPrefix("=") && !$0.hasSuffix("=") }) {
                return words
            }
            return [item]
        }
    }
}

/// One `name = value` assignment from main.cf, with where it was written.
public struct ConfigEntry: Sendable, Equatable {
    public var name: String
    /// The value as written: continuation lines joined, surrounding whitespace removed, `$name`
    /// references not yet expanded (expansion happens at lookup, as in Postfix).
    public var value: String
    public var file: String
    public var line: Int

    public init(name: String, value: String, file: String, line: Int) {
        self.name = name
        self.value = value
        self.file = file
        self.line = line
    }
}

/// The main.cf syntax exactly as Postfix reads it (postconf(5), "SYNTAX"):
///
/// - Each logical line is `name = value`; whitespace around `=` and at the end is ignored.
/// - A line that starts with whitespace continues the previous logical line.
/// - Empty lines and lines whose first non-whitespace character is `#` are ignored, and they do
///   not end a logical line. A `#` elsewhere is part of the value: "Comments cannot be put at
///   the end of a line" in main.cf.
/// - When a name is assigned twice, the later value wins.
public enum MainCF {
    public struct Parsed: Sendable {
        public var entries: [ConfigEntry]
        /// Problems that Postfix only warns about (for example a name defined twice).
        public var warnings: [ConfigError]
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> Parsed {
        var entries: [ConfigEntry] = []
        var warnings: [ConfigError] = []
        var current: (text: String, line: Int)?
        var lineNumber = 0
        var seen: [String: Int] = [:]

        func finish() throws(ConfigError) {
            guard let (text, line) = current else { return }
            current = nil
            guard let eq = text.firstIndex(of: "=") else {
                throw ConfigError(file: file, line: line,
                                  "missing '=' after parameter name \"\(text.prefix(40))\"; expected name = value")
            }
            let name = text[..<eq].trimmingWhitespace()
            let value = text[text.index(after: eq)...].trimmingWhitespace()
            guard !name.isEmpty else {
                throw ConfigError(file: file, line: line, "missing parameter name before '='")
            }
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw ConfigError(file: file, line: line,
                                  "bad parameter name \"\(name)\"; expected letters, digits and '_'")
            }
            if let earlier = seen[name] {
                warnings.append(ConfigError(file: file, line: line,
                                            "overriding earlier entry at line \(earlier): \(name)"))
                entries.removeAll { $0.name == name }
            }
            seen[name] = line
            entries.append(ConfigEntry(name: name, value: value, file: file, line: line))
        }

        // "\r\n" is one Character in Swift: split on both forms.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if let first = line.first, first == " " || first == "\t" {
                guard current != nil else {
                    throw ConfigError(file: file, line: lineNumber,
                                      "logical line must not start with whitespace: \"\(trimmed.prefix(40))\"")
                }
                current!.text += " " + trimmed
                continue
            }
            try finish()
            current = (String(line), lineNumber)
        }
        try finish()
        return Parsed(entries: entries, warnings: warnings)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

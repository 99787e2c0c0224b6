/// Splits a command line into words without a shell: whitespace separates, single quotes keep
/// everything literally, double quotes group (a backslash escapes `"` and `\` inside them), a
/// backslash outside quotes escapes the next character. Nothing is expanded: no variables, no
/// globs, no pipes — a `|` is just a word.
public enum CommandWords {
    public struct SplitError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// At most this many words (a limit on every list).
    public static let maximumWords = 1024

    public static func split(_ line: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in line {
            if escaped {
                current.append(c)
                escaped = false
                continue
            }
            switch quote {
            case "'"?:
                if c == "'" { quote = nil } else { current.append(c) }
            case "\""?:
                if c == "\"" { quote = nil } else if c == "\\" { escaped = true } else { current.append(c) }
            default:
                if c == " " || c == "\t" || c == "\n" {
                    if inWord {
                        words.append(current)
                        current = ""
                        inWord = false
                        if words.count > maximumWords { throw SplitError(description: "more than \(maximumWords) words") }
                    }
                } else {
                    inWord = true
                    if c == "'" || c == "\"" { quote = c } else if c == "\\" { escaped = true } else { current.append(c) }
                }
            }
        }
        if let q = quote { throw SplitError(description: "unterminated \(q) quote in \"\(line)\"; expected a closing \(q)") }
        if escaped { throw SplitError(description: "backslash at the end of \"\(line)\"; expected a character after it") }
        if inWord { words.append(current) }
        return words
    }
}

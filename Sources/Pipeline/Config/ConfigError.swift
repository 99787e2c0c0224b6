/// A configuration problem, reported the way Postfix reports one: file, line, what was expected.
///
/// A configuration error is never the sender's fault: `mdad deliver` turns it into a temporary
/// failure (4.3.5, exit 75), so Postfix keeps the mail queued until the administrator fixes it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var message: String

    public init(file: String? = nil, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (file, line) {
        case let (file?, line?): return "\(file), line \(line): \(message)"
        case let (file?, nil): return "\(file): \(message)"
        default: return message
        }
    }
}

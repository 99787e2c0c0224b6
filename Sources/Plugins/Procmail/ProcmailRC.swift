import Pipeline

/// A compiled procmailrc: the statements in order, each with its file and line. Immutable and
/// shared; the interpreter runs it per message without parsing again.
public struct ProcmailRC: Sendable {
    public let file: String
    public let items: [ProcmailItem]

    /// The most recipes (and assignments) one rc may hold, nested blocks included.
    public static let maximumStatements = 10_000
    /// The deepest nesting of `{ … }` blocks.
    public static let maximumNesting = 32
}

/// One statement of an rc.
public enum ProcmailItem: Sendable {
    /// `NAME=value` (the value as written, quotes and all, expanded when run); a value of nil
    /// is `NAME` alone, which unsets it.
    case assignment(name: String, value: String?, line: Int)
    case recipe(ProcmailRecipe)
}

/// `:0 flags :lockfile`, its conditions and its action.
public struct ProcmailRecipe: Sendable {
    public let line: Int
    public let flags: ProcmailFlags
    /// nil: no lock; "": the implicit lockfile (folder + LOCKEXT); else the lockfile as written.
    public let lockfile: String?
    public let conditions: [ProcmailCondition]
    public let action: ProcmailAction
    public let actionLine: Int
}

/// The recipe flags (procmailrc(5), "Flags").
public struct ProcmailFlags: Sendable, Equatable {
    public var header = false, body = false, caseSensitive = false
    public var chainAnd = false, chainAndSucceeded = false, elseIf = false, elseIfFailed = false
    public var feedHeader = false, feedBody = false
    public var filter = false, copy = false, wait = false, waitQuiet = false
    public var ignoreErrors = false, raw = false

    /// Which part of the mail conditions search: H, B, or (neither given) the header.
    public var searchesHeader: Bool { header || !body }
    public var searchesBody: Bool { body }
    /// Which part of the mail the action gets: h, b, or (neither given) both.
    public var feedsHeader: Bool { feedHeader || !feedBody }
    public var feedsBody: Bool { feedBody || !feedHeader }

    public init() {}

    init(_ letters: String) throws(ProcmailParseError.Reason) {
        for c in letters {
            switch c {
            case "H": header = true
            case "B": body = true
            case "D": caseSensitive = true
            case "A": chainAnd = true
            case "a": chainAndSucceeded = true
            case "E": elseIf = true
            case "e": elseIfFailed = true
            case "h": feedHeader = true
            case "b": feedBody = true
            case "f": filter = true
            case "c": copy = true
            case "w": wait = true
            case "W": waitQuiet = true
            case "i": ignoreErrors = true
            case "r": raw = true
            default: throw .init("unknown flag '\(c)'; expected one of H B D A a E e h b f c w W i r")
            }
        }
    }
}

/// One `*` line.
public struct ProcmailCondition: Sendable {
    public enum Kind: Sendable {
        /// A regular expression, compiled now; `expand` ones are compiled after `$` expansion.
        case regex(ProcmailRegex?, text: String)
        /// `? command`: true when the command exits 0.
        case program(String)
        /// `< N` or `> N`: the mail's size.
        case size(less: Bool, bytes: Int)
        /// `VAR ?? regex`: the regex against a variable's value.
        case variable(String, ProcmailRegex?, text: String)
    }
    public let line: Int
    public let kind: Kind
    public let negate: Bool
    public let expand: Bool
    /// `w^x` scoring; nil for a plain condition.
    public let weight: (w: Double, x: Double)?
    /// The condition as written, for `mdad rules test`.
    public let text: String
}

/// What a recipe does when its conditions hold.
public enum ProcmailAction: Sendable {
    /// One or more folders (mbox files, `dir/` Maildirs, `dir/.` MH folders), as written.
    case folders(String)
    /// `! address …`, as written.
    case forward(String)
    /// `| command` (with `f`, a filter).
    case pipe(String)
    /// `NAME=| command`: the command's output into a variable.
    case capture(String, command: String)
    case block([ProcmailItem])
}

/// A syntax error with the file and line, as the user sees it.
public struct ProcmailParseError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(file), line \(line): \(message)" }

    struct Reason: Error { let text: String; init(_ t: String) { text = t } }
}

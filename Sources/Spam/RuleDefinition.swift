import Pipeline

/// The kinds of rule SpamAssassin's rule files define, by the directive that defines them.
public enum RuleType: String, Sendable, CaseIterable {
    case header, body, rawbody, full, uri, mimeheader, meta
}

/// What a `header` (or `mimeheader`) rule reads: a field name, or one of SpamAssassin's
/// pseudo-headers (`ALL`, `ToCc`, `EnvelopeFrom`, `MESSAGEID`), with the modifiers after it.
struct HeaderQuery: Hashable, Sendable {
    /// The name as written, without modifiers.
    var name: String
    var raw = false
    var addr = false
    var displayName = false
    var host = false
    var domain = false
    var ip = false
    var revip = false
    var first = false
    var last = false

    /// `From:addr`, `ALL:raw`, `Received:ip:first` …
    init(_ spec: String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        name = String(parts[0])
        for m in parts.dropFirst() {
            switch m {
            case "raw": raw = true
            case "addr": addr = true
            case "name": displayName = true
            case "host": host = true
            case "domain": host = true; domain = true
            case "ip": ip = true
            case "revip": ip = true; revip = true
            case "first": first = true
            case "last": last = true
            default: break
            }
        }
    }

    /// Scalar results (one value, no trailing newline) as SpamAssassin's `get` gives them.
    var isAddressLike: Bool { addr || displayName || host || domain || ip }
}

/// How a header rule tests its header.
enum HeaderTest: Sendable {
    case matches(PerlRegex)
    case doesNotMatch(PerlRegex)
    case exists
    case doesNotExist
}

/// An `eval:` rule: a function name and its arguments, as written.
struct EvalCall: Sendable {
    let function: String
    let arguments: [String]

    /// `eval:check_header_count_range('From',2,999)`.
    init?(_ text: Substring) {
        var t = String(text).trimmingWhitespace()
        guard t.hasPrefix("eval:") else { return nil }
        t = String(t.dropFirst(5))
        guard let open = t.firstIndex(of: "("), t.hasSuffix(")") else {
            function = t
            arguments = []
            return
        }
        function = String(t[..<open]).trimmingWhitespace()
        let inner = t[t.index(after: open)..<t.index(before: t.endIndex)]
        var args: [String] = []
        var current = ""
        var quote: Character?
        for c in inner {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "," {
                args.append(current.trimmingWhitespace())
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.trimmingWhitespace().isEmpty || !args.isEmpty { args.append(current.trimmingWhitespace()) }
        arguments = args
    }
}

/// A rule as read from the files, before compilation.
struct RuleDefinition: Sendable {
    let name: String
    let type: RuleType
    /// `file:line` of the definition (the last one wins, as in SpamAssassin).
    let origin: String
    var regex: PerlRegex?
    var header: (query: HeaderQuery, test: HeaderTest, ifUnset: String?)?
    var eval: EvalCall?
    var meta: String?
}

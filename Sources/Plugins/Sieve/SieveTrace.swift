/// One step `mdad trace` shows of a Sieve run: a test that matched or an action taken, at
/// its script and line.
struct SieveTraceStep: Sendable, Equatable {
    /// The script's name (the file name without `.sieve`).
    var script: String
    var line: Int
    var text: String
}

extension SieveTest {
    /// The test's name as written in the script (`header`, `allof`, `not exists`).
    var traceName: String {
        switch self {
        case .constant(let b): return b ? "true" : "false"
        case .not(let t): return "not \(t.traceName)"
        case .allof(let ts): return "allof(\(ts.map(\.traceName).joined(separator: ", ")))"
        case .anyof(let ts): return "anyof(\(ts.map(\.traceName).joined(separator: ", ")))"
        case .header(let names, _, _, let mime): return "\(mime ? "header :mime" : "header") \(Self.list(names))"
        case .address(let names, _, _, _): return "address \(Self.list(names))"
        case .envelope(let parts, _, _): return "envelope \(Self.list(parts))"
        case .exists(let names): return "exists \(Self.list(names))"
        case .size(let over, let limit): return "size \(over ? ":over" : ":under") \(limit)"
        case .body: return "body"
        case .string: return "string"
        case .hasflag: return "hasflag"
        case .date: return "date"
        case .currentdate: return "currentdate"
        case .mailboxexists: return "mailboxexists"
        case .duplicate: return "duplicate"
        case .validNotifyMethod: return "valid_notify_method"
        case .notifyMethodCapability: return "notify_method_capability"
        }
    }

    static func list(_ l: [SieveString]) -> String {
        "\"" + l.map { $0.literal ?? "${…}" }.joined(separator: "\", \"") + "\""
    }
}

extension SieveCommand {
    /// The action a command takes, in words, with its line (nil for control commands).
    var traceAction: (line: Int, text: String)? {
        switch self {
        case .keep(_, let line): return (line, "keep")
        case .discard(let line): return (line, "discard")
        case .fileinto(let m, _, let copy, _, let line): return (line, "fileinto\(copy ? " :copy" : "") \"\(m.literal ?? "${…}")\"")
        case .redirect(let a, let copy, let line): return (line, "redirect\(copy ? " :copy" : "") \"\(a.literal ?? "${…}")\"")
        case .reject(_, let extended, let line): return (line, extended ? "ereject" : "reject")
        case .vacation(_, let line): return (line, "vacation")
        case .addheader(let n, _, _, let line): return (line, "addheader \"\(n.literal ?? "${…}")\"")
        case .deleteheader(let n, _, _, let line): return (line, "deleteheader \"\(n.literal ?? "${…}")\"")
        case .include(let key, _, _, let line): return (line, "include \(key)")
        case .notify(_, let line): return (line, "notify")
        case .error(_, let line): return (line, "error")
        case .ifChain, .stop, .set, .flags, .return, .global: return nil
        }
    }
}

import Pipeline

/// Reads one command's or test's arguments against what it takes: tagged arguments (with
/// their own parameters) first, then the positional ones. Errors are worded as Pigeonhole's.
struct SieveArguments {
    enum TagValue { case flag, string, strings, number }

    let node: SieveNode
    let kind: String   // "command" or "test"
    let script: String
    var tags: [String: (value: SieveArgument?, line: Int)] = [:]
    var tagOrder: [String] = []
    var positional: [SieveArgument] = []

    func error(_ message: String, line: Int? = nil) -> SieveError {
        SieveError(script: script, line: line ?? node.line, message)
    }

    /// `spec` names every tag the command takes and what follows it.
    init(_ node: SieveNode, kind: String, script: String, spec: [String: TagValue]) throws(SieveError) {
        self.node = node
        self.kind = kind
        self.script = script
        var i = 0
        let args = node.arguments
        while i < args.count {
            if case .tag(let t, let line) = args[i] {
                guard let want = spec[t] else {
                    throw error("unknown tagged argument ':\(t)' for the \(node.name) \(kind) (reported only once at first occurrence)", line: line)
                }
                guard positional.isEmpty else {
                    throw error("the \(node.name) \(kind) expects its tagged arguments before the positional ones, but ':\(t)' follows them", line: line)
                }
                if tags[t] != nil { throw error("encountered duplicate tag ':\(t)' for the \(node.name) \(kind)", line: line) }
                var value: SieveArgument? = nil
                if want != .flag {
                    i += 1
                    guard i < args.count else { throw error("the :\(t) tag for the \(node.name) \(kind) requires one parameter, but none was found", line: line) }
                    value = args[i]
                    switch (want, args[i]) {
                    case (.string, .strings(let l, let isList, _)) where l.count == 1 && !isList: break
                    case (.strings, .strings): break
                    case (.number, .number): break
                    default:
                        let expected = want == .number ? "a number" : want == .string ? "a string" : "a string list"
                        throw error("the :\(t) tag for the \(node.name) \(kind) requires \(expected) as parameter, but \(Self.describe(args[i])) was found", line: line)
                    }
                }
                tags[t] = (value, line)
                tagOrder.append(t)
            } else {
                positional.append(args[i])
            }
            i += 1
        }
    }

    static func describe(_ a: SieveArgument) -> String {
        switch a {
        case .strings(_, let isList, _): return isList ? "a string list" : "a string"
        case .number: return "a number"
        case .tag(let t, _): return "tag ':\(t)'"
        }
    }

    func has(_ tag: String) -> Bool { tags[tag] != nil }

    func string(_ tag: String) -> String? {
        if case .strings(let l, _, _)? = tags[tag]?.value { return l.first }
        return nil
    }

    func strings(_ tag: String) -> [String]? {
        if case .strings(let l, _, _)? = tags[tag]?.value { return l }
        return nil
    }

    func number(_ tag: String) -> Int? {
        if case .number(let n, _)? = tags[tag]?.value { return n }
        return nil
    }

    /// Checks the positional arguments: `names` says what each is called, for messages.
    func expectPositional(_ kinds: [(name: String, kind: TagValue)]) throws(SieveError) {
        guard positional.count == kinds.count else {
            throw error("the \(node.name) \(kind) requires \(kinds.count) positional argument(s), but \(positional.count) were found")
        }
        for (i, want) in kinds.enumerated() {
            let got = positional[i]
            let ok: Bool
            switch (want.kind, got) {
            case (.string, .strings(let l, let isList, _)): ok = l.count == 1 && !isList
            case (.strings, .strings): ok = true
            case (.number, .number): ok = true
            default: ok = false
            }
            if !ok {
                let expected = want.kind == .number ? "a number" : want.kind == .string ? "a string" : "a string list"
                throw error("the \(node.name) \(kind) expects \(expected) as argument \(i + 1) (\(want.name)), but \(Self.describe(got)) was found", line: got.line)
            }
        }
    }

    func positionalStrings(_ i: Int) -> [String] {
        if case .strings(let l, _, _) = positional[i] { return l }
        return []
    }

    func positionalNumber(_ i: Int) -> Int {
        if case .number(let n, _) = positional[i] { return n }
        return 0
    }
}

/// One argument as written: a string list (a lone string is a list of one), a number or a tag.
enum SieveArgument: Equatable {
    case strings([String], isList: Bool, line: Int)
    case number(Int, line: Int)
    case tag(String, line: Int)

    var line: Int {
        switch self {
        case .strings(_, _, let l), .number(_, let l), .tag(_, let l): return l
        }
    }
}

/// A command or a test as parsed (RFC 5228 section 8.2), before validation gives it meaning.
struct SieveNode: Equatable {
    var name: String
    var line: Int
    var arguments: [SieveArgument]
    var tests: [SieveNode]
    /// Whether the tests were written as a parenthesised test list.
    var testList: Bool
    /// A command's block; nil for a command ended by `;` and for tests.
    var block: [SieveNode]?
}

/// The recursive-descent parser over ``SieveLexer``; nesting is bounded.
struct SieveParser {
    var lexer: SieveLexer
    var token: SieveToken = .end
    static let maxNesting = 64
    static let maxListSize = 10_000

    init(_ bytes: [UInt8], script: String) {
        lexer = SieveLexer(bytes, script: script)
    }

    func error(_ message: String) -> SieveError { SieveError(script: lexer.script, line: lexer.tokenLine, message) }

    static func parse(_ bytes: [UInt8], script: String) throws(SieveError) -> [SieveNode] {
        var p = SieveParser(bytes, script: script)
        try p.advance()
        let commands = try p.commands(depth: 0)
        guard p.token == .end else { throw p.error("unexpected \(p.describe(p.token)) found at (the) top level; expecting a command") }
        return commands
    }

    mutating func advance() throws(SieveError) { token = try lexer.next() }

    func describe(_ t: SieveToken) -> String {
        switch t {
        case .identifier(let s): return "identifier '\(s)'"
        case .tag(let s): return "tag ':\(s)'"
        case .number(let n): return "number \(n)"
        case .string: return "string"
        case .punct(let c): return "'\(String(UnicodeScalar(c)))'"
        case .end: return "end of script"
        }
    }

    mutating func commands(depth: Int) throws(SieveError) -> [SieveNode] {
        var out: [SieveNode] = []
        while case .identifier = token {
            out.append(try command(depth: depth))
        }
        return out
    }

    mutating func command(depth: Int) throws(SieveError) -> SieveNode {
        guard case .identifier(let name) = token else { throw error("expecting a command") }
        let line = lexer.tokenLine
        try advance()
        var node = try argumentsAndTests(name: name, line: line, depth: depth)
        switch token {
        case .punct(UInt8(ascii: ";")):
            try advance()
        case .punct(UInt8(ascii: "{")):
            guard depth < Self.maxNesting else { throw error("the script's blocks are nested too deeply (more than \(Self.maxNesting))") }
            try advance()
            node.block = try commands(depth: depth + 1)
            guard token == .punct(UInt8(ascii: "}")) else {
                throw error("expected '}' to end the block, but found \(describe(token))")
            }
            try advance()
        default:
            throw error("expected ';' or '{' after command '\(name)', but found \(describe(token))")
        }
        return node
    }

    mutating func argumentsAndTests(name: String, line: Int, depth: Int) throws(SieveError) -> SieveNode {
        var node = SieveNode(name: name, line: line, arguments: [], tests: [], testList: false, block: nil)
        loop: while true {
            let at = lexer.tokenLine
            switch token {
            case .string(let s):
                node.arguments.append(.strings([s], isList: false, line: at))
                try advance()
            case .number(let n):
                node.arguments.append(.number(n, line: at))
                try advance()
            case .tag(let t):
                node.arguments.append(.tag(t.lowercased(), line: at))
                try advance()
            case .punct(UInt8(ascii: "[")):
                try advance()
                var list: [String] = []
                while true {
                    guard case .string(let s) = token else { throw error("expected a string in the string list, but found \(describe(token))") }
                    list.append(s)
                    if list.count > Self.maxListSize { throw error("string list is too long") }
                    try advance()
                    if token == .punct(UInt8(ascii: ",")) { try advance(); continue }
                    guard token == .punct(UInt8(ascii: "]")) else { throw error("expected ',' or ']' in the string list, but found \(describe(token))") }
                    try advance()
                    break
                }
                node.arguments.append(.strings(list, isList: true, line: at))
            default:
                break loop
            }
        }
        guard depth < Self.maxNesting else { throw error("the script's tests are nested too deeply (more than \(Self.maxNesting))") }
        switch token {
        case .identifier(let t):
            let tl = lexer.tokenLine
            try advance()
            node.tests = [try argumentsAndTests(name: t, line: tl, depth: depth + 1)]
        case .punct(UInt8(ascii: "(")):
            node.testList = true
            try advance()
            while true {
                guard case .identifier(let t) = token else { throw error("expected a test in the test list, but found \(describe(token))") }
                let tl = lexer.tokenLine
                try advance()
                node.tests.append(try argumentsAndTests(name: t, line: tl, depth: depth + 1))
                if token == .punct(UInt8(ascii: ",")) { try advance(); continue }
                guard token == .punct(UInt8(ascii: ")")) else { throw error("expected ',' or ')' in the test list, but found \(describe(token))") }
                try advance()
                break
            }
        default:
            break
        }
        return node
    }
}

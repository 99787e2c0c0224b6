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
    /// The byte offset of the name, for the column errors show.
    var offset = 0
}

/// The recursive-descent parser over ``SieveLexer``; nesting is bounded.
///
/// A syntax error does not end parsing: it is recorded, the parser skips to the end of the
/// command (its `;`, or the `}` closing its block) and goes on, so every syntax error of a
/// script is reported at once (up to ``SieveError/maxErrors``), as Pigeonhole's parser does.
/// A lexical error (a stray character, an unterminated string) ends parsing there, as in
/// Pigeonhole.
struct SieveParser {
    var lexer: SieveLexer
    var token: SieveToken = .end
    var errors: [SieveError] = []
    /// Set by a lexical error: nothing after it is parsed or reported.
    var halted = false
    static let maxNesting = 64
    static let maxListSize = 10_000

    init(_ bytes: [UInt8], script: String) {
        lexer = SieveLexer(bytes, script: script)
    }

    var tooMany: Bool { errors.count >= SieveError.maxErrors }

    func error(_ message: String) -> SieveError {
        SieveError(script: lexer.script, line: lexer.tokenLine, column: SieveError.column(of: lexer.tokenStart, in: lexer.bytes), message)
    }

    static func parse(_ bytes: [UInt8], script: String) throws(SieveError) -> [SieveNode] {
        var p = SieveParser(bytes, script: script)
        p.advance()
        let commands = p.commands(depth: 0)
        if p.token != .end {
            // A stray token at the top level (a `}`, an argument) ends the script for the parser.
            p.report(p.error("unexpected \(p.describe(p.token)) found at (the presumed) end of file"))
        }
        if let e = SieveError.collected(p.errors, phase: "parse") { throw e }
        return commands
    }

    mutating func report(_ e: SieveError) {
        if !tooMany, !halted { errors.append(e) }
    }

    /// The next token; a lexical error is reported and ends parsing (the token is then `.end`).
    mutating func advance() {
        guard !halted else { return }
        do throws(SieveError) {
            token = try lexer.next()
        } catch {
            report(error)
            if lexer.pos < lexer.bytes.count {
                report(SieveError(script: lexer.script, line: lexer.line, column: SieveError.column(of: lexer.pos, in: lexer.bytes),
                                  "unexpected unknown characters found at (the presumed) end of file"))
            }
            halted = true
            token = .end
        }
    }

    /// After a syntax error: skips to the end of the command, that is past its `;` or past the
    /// `}` that closes a block it opened, or up to a `}` that closes the enclosing block.
    mutating func recover(depth: Int) {
        var nesting = 0
        while true {
            switch token {
            case .end: return
            case .punct(UInt8(ascii: ";")) where nesting == 0:
                advance()
                return
            case .punct(UInt8(ascii: "{")):
                nesting += 1
            case .punct(UInt8(ascii: "}")):
                if nesting == 0 {
                    // At the top level a stray `}` belongs to the broken command.
                    if depth == 0 { advance() }
                    return
                }
                nesting -= 1
                if nesting == 0 {
                    advance()
                    return
                }
            default: break
            }
            advance()
        }
    }

    func describe(_ t: SieveToken) -> String {
        switch t {
        case .identifier(let s): return "identifier '\(s)'"
        case .tag(let s): return "tag ':\(s)'"
        case .number(let n): return "number \(n)"
        case .string: return "string"
        case .punct(let c): return "'\(String(UnicodeScalar(c)))'"
        case .end: return "end of file"
        }
    }

    mutating func commands(depth: Int) -> [SieveNode] {
        var out: [SieveNode] = []
        while case .identifier = token, !tooMany {
            do throws(SieveError) {
                out.append(try command(depth: depth))
            } catch {
                report(error)
                recover(depth: depth)
            }
        }
        return out
    }

    mutating func command(depth: Int) throws(SieveError) -> SieveNode {
        guard case .identifier(let name) = token else { throw error("expecting a command") }
        let line = lexer.tokenLine
        let offset = lexer.tokenStart
        advance()
        var node = try argumentsAndTests(name: name, line: line, depth: depth)
        node.offset = offset
        switch token {
        case .punct(UInt8(ascii: ";")):
            advance()
        case .punct(UInt8(ascii: "{")):
            guard depth < Self.maxNesting else { throw error("the script's blocks are nested too deeply (more than \(Self.maxNesting))") }
            advance()
            node.block = commands(depth: depth + 1)
            guard token == .punct(UInt8(ascii: "}")) else {
                throw error("expected end of compound block '}', but found \(describe(token))")
            }
            advance()
        default:
            throw error("expected end of command ';' or the beginning of a compound block '{', but found \(describe(token))")
        }
        return node
    }

    mutating func argumentsAndTests(name: String, line: Int, depth: Int, offset: Int = 0) throws(SieveError) -> SieveNode {
        var node = SieveNode(name: name, line: line, arguments: [], tests: [], testList: false, block: nil, offset: offset)
        loop: while true {
            let at = lexer.tokenLine
            switch token {
            case .string(let s):
                node.arguments.append(.strings([s], isList: false, line: at))
                advance()
            case .number(let n):
                node.arguments.append(.number(n, line: at))
                advance()
            case .tag(let t):
                node.arguments.append(.tag(t.lowercased(), line: at))
                advance()
            case .punct(UInt8(ascii: "[")):
                advance()
                var list: [String] = []
                while true {
                    guard case .string(let s) = token else { throw error("expected a string in the string list, but found \(describe(token))") }
                    list.append(s)
                    if list.count > Self.maxListSize { throw error("string list is too long") }
                    advance()
                    if token == .punct(UInt8(ascii: ",")) { advance(); continue }
                    guard token == .punct(UInt8(ascii: "]")) else { throw error("expected ',' or ']' in the string list, but found \(describe(token))") }
                    advance()
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
            let tl = lexer.tokenLine, to = lexer.tokenStart
            advance()
            node.tests = [try argumentsAndTests(name: t, line: tl, depth: depth + 1, offset: to)]
        case .punct(UInt8(ascii: "(")):
            node.testList = true
            advance()
            var after = "("
            while true {
                guard case .identifier(let t) = token else {
                    // Pigeonhole's two lines for a missing test.
                    report(error("expecting test identifier after '\(after)' in test list, but found \(describe(token))"))
                    throw error("failed to accept more tests for command '\(name)'")
                }
                after = ","
                let tl = lexer.tokenLine, to = lexer.tokenStart
                advance()
                node.tests.append(try argumentsAndTests(name: t, line: tl, depth: depth + 1, offset: to))
                if token == .punct(UInt8(ascii: ",")) { advance(); continue }
                guard token == .punct(UInt8(ascii: ")")) else { throw error("expected ',' or ')' in the test list, but found \(describe(token))") }
                advance()
                break
            }
        default:
            break
        }
        return node
    }
}

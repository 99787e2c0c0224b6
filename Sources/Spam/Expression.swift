/// A `meta` rule's expression (and an `if` line's condition): Perl's numeric and boolean
/// operators over rule names and numbers, as SpamAssassin evaluates them.
///
///     meta DRUGS_MANYKINDS  (__DRUGS_ERECTILE + __DRUGS_DIET + __DRUGS_PAIN) > 2
///     meta FROM_LOCAL_NOVOWEL (__FROM_LOCAL_NOVOWEL && !__FROM_ENCODED_QP)
///
/// A rule name stands for its hit count (0 when it did not hit). `&&` and `||` give the value
/// of the operand that decided, as in Perl; comparisons give 1 or 0.
indirect enum Expression: Sendable {
    case number(Double)
    case name(String)
    /// A rule by its index in the rule set (a name resolved at compile time).
    case rule(Int)
    case not(Expression)
    case negate(Expression)
    case binary(String, Expression, Expression)

    /// The most nesting a parse accepts (a bound on recursion).
    static let maxDepth = 200

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws(ParseError) -> Expression {
        var p = Parser(tokens: try tokenize(text))
        let e = try p.expression(minPrecedence: 0, depth: 0)
        guard p.pos == p.tokens.count else { throw ParseError(description: "unexpected \"\(p.tokens[p.pos])\" in expression") }
        return e
    }

    static func tokenize(_ text: String) throws(ParseError) -> [String] {
        var tokens: [String] = []
        let u = Array(text.utf8)
        var i = 0
        while i < u.count {
            let c = u[i]
            if c == 32 || c == 9 { i += 1; continue }
            if isWord(c) {
                var j = i
                while j < u.count, isWord(u[j]) || u[j] == UInt8(ascii: ".") { j += 1 }
                tokens.append(String(decoding: u[i..<j], as: UTF8.self))
                i = j
                continue
            }
            let two = i + 1 < u.count ? String(decoding: u[i...(i + 1)], as: UTF8.self) : ""
            if ["&&", "||", ">=", "<=", "==", "!="].contains(two) { tokens.append(two); i += 2; continue }
            if "()!+-*/<>".utf8.contains(c) { tokens.append(String(UnicodeScalar(c))); i += 1; continue }
            throw ParseError(description: "unexpected character \"\(String(UnicodeScalar(c)))\" in expression")
        }
        return tokens
    }

    static func isWord(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122) || c == UInt8(ascii: "_")
    }

    static let precedence: [String: Int] = [
        "||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6,
    ]

    struct Parser {
        let tokens: [String]
        var pos = 0

        mutating func expression(minPrecedence: Int, depth: Int) throws(ParseError) -> Expression {
            guard depth < Expression.maxDepth else { throw ParseError(description: "expression nested too deeply") }
            var left = try unary(depth: depth + 1)
            while pos < tokens.count, let prec = Expression.precedence[tokens[pos]], prec > minPrecedence {
                let op = tokens[pos]
                pos += 1
                let right = try expression(minPrecedence: prec, depth: depth + 1)
                left = .binary(op, left, right)
            }
            return left
        }

        mutating func unary(depth: Int) throws(ParseError) -> Expression {
            guard depth < Expression.maxDepth else { throw ParseError(description: "expression nested too deeply") }
            guard pos < tokens.count else { throw ParseError(description: "expression ends too early") }
            let t = tokens[pos]
            pos += 1
            switch t {
            case "!": return .not(try unary(depth: depth + 1))
            case "-": return .negate(try unary(depth: depth + 1))
            case "+": return try unary(depth: depth + 1)
            case "(":
                let e = try expression(minPrecedence: 0, depth: depth + 1)
                guard pos < tokens.count, tokens[pos] == ")" else { throw ParseError(description: "missing \")\"") }
                pos += 1
                return e
            default:
                if let n = Double(t) { return .number(n) }
                guard let f = t.utf8.first, Expression.isWord(f) else { throw ParseError(description: "unexpected \"\(t)\" in expression") }
                return .name(t)
            }
        }
    }

    /// The expression with rule names replaced by indices; unknown names are 0, as in
    /// SpamAssassin (an undefined dependency never hits).
    func resolved(_ index: [String: Int]) -> Expression {
        switch self {
        case .number, .rule: return self
        case .name(let n): return index[n].map { .rule($0) } ?? .number(0)
        case .not(let e): return .not(e.resolved(index))
        case .negate(let e): return .negate(e.resolved(index))
        case .binary(let op, let a, let b): return .binary(op, a.resolved(index), b.resolved(index))
        }
    }

    /// Every name the expression refers to.
    var names: [String] {
        switch self {
        case .number, .rule: return []
        case .name(let n): return [n]
        case .not(let e), .negate(let e): return e.names
        case .binary(_, let a, let b): return a.names + b.names
        }
    }

    func evaluate(_ value: (String) -> Double) -> Double {
        evaluate(named: value, indexed: { _ in 0 })
    }

    /// Evaluates a resolved expression: `indexed` gives a rule's hit count by index.
    func evaluate(indexed: (Int) -> Double) -> Double {
        evaluate(named: { _ in 0 }, indexed: indexed)
    }

    func evaluate(named value: (String) -> Double, indexed: (Int) -> Double) -> Double {
        switch self {
        case .number(let n): return n
        case .name(let n): return value(n)
        case .rule(let i): return indexed(i)
        case .not(let e): return e.evaluate(named: value, indexed: indexed) == 0 ? 1 : 0
        case .negate(let e): return -e.evaluate(named: value, indexed: indexed)
        case .binary(let op, let a, let b):
            let x = a.evaluate(named: value, indexed: indexed)
            switch op {
            case "&&": return x == 0 ? x : b.evaluate(named: value, indexed: indexed)
            case "||": return x != 0 ? x : b.evaluate(named: value, indexed: indexed)
            default: break
            }
            let y = b.evaluate(named: value, indexed: indexed)
            switch op {
            case "+": return x + y
            case "-": return x - y
            case "*": return x * y
            case "/": return y == 0 ? 0 : x / y
            case "<": return x < y ? 1 : 0
            case ">": return x > y ? 1 : 0
            case "<=": return x <= y ? 1 : 0
            case ">=": return x >= y ? 1 : 0
            case "==": return x == y ? 1 : 0
            case "!=": return x != y ? 1 : 0
            default: return 0
            }
        }
    }
}

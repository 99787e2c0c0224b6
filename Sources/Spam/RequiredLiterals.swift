/// The literal text a regex cannot match without: a set of strings of which at least one must
/// occur in the subject (ASCII letters lowercased, so the test holds with and without `/i`).
///
/// This is what lets a message be tested against thousands of rules in one pass: a single
/// Aho-Corasick scan (``LiteralScanner``) finds which literals occur, and only the rules whose
/// literals occur run their regex. A rule whose pattern yields no literal of at least
/// ``minimumLength`` bytes runs always. The extraction is conservative: whatever it cannot
/// read (classes, escapes it does not know, optional parts) breaks a literal instead of
/// guessing.
enum RequiredLiterals {
    /// Shorter literals occur in nearly every message and filter nothing.
    static let minimumLength = 3
    /// A larger alternation is not worth a prefilter entry per branch.
    static let maximumAlternatives = 64

    /// The literals of `pattern` (compiled with `extended` when the `x` flag is set), or nil
    /// when nothing is certainly required.
    static func of(_ pattern: String, extended: Bool) -> [[UInt8]]? {
        var x = Extractor(p: Array(pattern.utf8), extended: extended)
        guard let set = x.alternation(depth: 0), x.i == x.p.count else { return nil }
        return Extractor.strength(set) >= minimumLength ? set : nil
    }

    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

    struct Extractor {
        let p: [UInt8]
        let extended: Bool
        var i = 0

        init(p: [UInt8], extended: Bool) {
            self.p = p
            self.extended = extended
        }

        static func strength(_ set: [[UInt8]]) -> Int { set.map(\.count).min() ?? 0 }

        mutating func alternation(depth: Int) -> [[UInt8]]? {
            guard depth < 50 else { return nil }
            var branches: [[[UInt8]]?] = [sequence(depth: depth)]
            while i < p.count, p[i] == UInt8(ascii: "|") {
                i += 1
                branches.append(sequence(depth: depth))
            }
            var union: [[UInt8]] = []
            for b in branches {
                guard let b else { return nil }
                for l in b where !union.contains(l) { union.append(l) }
            }
            return union.isEmpty || union.count > RequiredLiterals.maximumAlternatives ? nil : union
        }

        enum Atom {
            case byte(UInt8)
            case group([[UInt8]]?)
            case zeroWidth
            case other
        }

        mutating func sequence(depth: Int) -> [[UInt8]]? {
            var run: [UInt8] = []
            var best: [[UInt8]]?
            func consider(_ set: [[UInt8]]?) {
                guard let set, !set.isEmpty else { return }
                if best == nil || Extractor.strength(set) > Extractor.strength(best!) { best = set }
            }
            func closeRun() {
                if !run.isEmpty { consider([run]) }
                run = []
            }
            while i < p.count {
                let c = p[i]
                if c == UInt8(ascii: "|") || c == UInt8(ascii: ")") { break }
                if extended, c == 32 || c == 9 || c == 10 || c == 13 { i += 1; continue }
                if extended, c == UInt8(ascii: "#") {
                    while i < p.count, p[i] != 10 { i += 1 }
                    continue
                }
                let atom = parseAtom(depth: depth)
                let minimum = parseQuantifier()
                switch atom {
                case .byte(let b):
                    if minimum == nil { run.append(RequiredLiterals.lower(b)) }
                    else if minimum! >= 1 { run.append(RequiredLiterals.lower(b)); closeRun() }
                    else { closeRun() }
                case .group(let set):
                    closeRun()
                    if minimum == nil || minimum! >= 1 { consider(set) }
                case .zeroWidth:
                    if minimum == 0 { closeRun() }
                case .other:
                    closeRun()
                }
            }
            closeRun()
            return best
        }

        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 48...57: return b - 48
            case 65...70: return b - 55
            case 97...102: return b - 87
            default: return nil
            }
        }

        mutating func parseAtom(depth: Int) -> Atom {
            let c = p[i]
            i += 1
            switch c {
            case UInt8(ascii: "("):
                return parseGroup(depth: depth)
            case UInt8(ascii: "["):
                skipClass()
                return .other
            case UInt8(ascii: "."):
                return .other
            case UInt8(ascii: "^"), UInt8(ascii: "$"):
                return .zeroWidth
            case UInt8(ascii: "\\"):
                return parseEscape()
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"):
                return .other // a quantifier where no atom is: leave it to PCRE2
            default:
                return .byte(c)
            }
        }

        mutating func parseEscape() -> Atom {
            guard i < p.count else { return .other }
            let e = p[i]
            i += 1
            switch e {
            case UInt8(ascii: "x"):
                if i < p.count, p[i] == UInt8(ascii: "{") { skip(to: UInt8(ascii: "}")); return .other }
                var v: UInt8 = 0
                var n = 0
                while n < 2, i < p.count, let h = hex(p[i]) { v = v &* 16 &+ h; i += 1; n += 1 }
                return n > 0 && v != 10 && v != 13 ? .byte(v) : .other
            case UInt8(ascii: "Q"):
                // \Q…\E: every byte literal. Returned as a group so that it is one factor.
                var lit: [UInt8] = []
                while i < p.count {
                    if p[i] == UInt8(ascii: "\\"), i + 1 < p.count, p[i + 1] == UInt8(ascii: "E") { i += 2; break }
                    lit.append(RequiredLiterals.lower(p[i]))
                    i += 1
                }
                return lit.isEmpty || lit.contains(10) ? .other : .group([lit])
            case UInt8(ascii: "E"), UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "A"), UInt8(ascii: "z"),
                 UInt8(ascii: "Z"), UInt8(ascii: "G"), UInt8(ascii: "K"):
                return .zeroWidth
            case UInt8(ascii: "c"):
                if i < p.count { i += 1 }
                return .other
            case UInt8(ascii: "p"), UInt8(ascii: "P"), UInt8(ascii: "N"), UInt8(ascii: "o"):
                if i < p.count, p[i] == UInt8(ascii: "{") { skip(to: UInt8(ascii: "}")) } else if e != UInt8(ascii: "N"), i < p.count { i += 1 }
                return .other
            case UInt8(ascii: "k"), UInt8(ascii: "g"):
                if i < p.count {
                    switch p[i] {
                    case UInt8(ascii: "{"): skip(to: UInt8(ascii: "}"))
                    case UInt8(ascii: "<"): skip(to: UInt8(ascii: ">"))
                    case UInt8(ascii: "'"): i += 1; skip(to: UInt8(ascii: "'"))
                    default: while i < p.count, p[i] == UInt8(ascii: "-") || (p[i] >= 48 && p[i] <= 57) { i += 1 }
                    }
                }
                return .other
            default:
                let isAlnum = (e >= 48 && e <= 57) || ((e | 0x20) >= 97 && (e | 0x20) <= 122)
                if isAlnum {
                    // Digits: a back reference or an octal escape; letters: classes and controls.
                    while e >= 48 && e <= 57, i < p.count, p[i] >= 48 && p[i] <= 57 { i += 1 }
                    return .other
                }
                return e == 10 ? .other : .byte(e)
            }
        }

        /// Moves past `close` (the opening one has been consumed).
        mutating func skip(to close: UInt8) {
            while i < p.count, p[i] != close { i += 1 }
            if i < p.count { i += 1 }
        }

        mutating func skipClass() {
            if i < p.count, p[i] == UInt8(ascii: "^") { i += 1 }
            if i < p.count, p[i] == UInt8(ascii: "]") { i += 1 }
            while i < p.count, p[i] != UInt8(ascii: "]") {
                if p[i] == UInt8(ascii: "\\") { i += 2; continue }
                if p[i] == UInt8(ascii: "["), i + 1 < p.count, p[i + 1] == UInt8(ascii: ":") {
                    i += 2
                    while i + 1 < p.count, !(p[i] == UInt8(ascii: ":") && p[i + 1] == UInt8(ascii: "]")) { i += 1 }
                    i += 2
                    continue
                }
                i += 1
            }
            if i < p.count { i += 1 }
        }

        mutating func parseGroup(depth: Int) -> Atom {
            var keep = true
            if i < p.count, p[i] == UInt8(ascii: "*") { skip(to: UInt8(ascii: ")")); return .zeroWidth }
            if i < p.count, p[i] == UInt8(ascii: "?") {
                i += 1
                guard i < p.count else { return .other }
                switch p[i] {
                case UInt8(ascii: "#"):
                    skip(to: UInt8(ascii: ")"))
                    return .zeroWidth
                case UInt8(ascii: ":"), UInt8(ascii: "|"), UInt8(ascii: ">"):
                    i += 1
                case UInt8(ascii: "="), UInt8(ascii: "!"):
                    i += 1
                    keep = false
                case UInt8(ascii: "<"):
                    i += 1
                    if i < p.count, p[i] == UInt8(ascii: "=") || p[i] == UInt8(ascii: "!") { i += 1; keep = false } else { skip(to: UInt8(ascii: ">")) }
                case UInt8(ascii: "P"):
                    i += 1
                    if i < p.count, p[i] == UInt8(ascii: "<") { skip(to: UInt8(ascii: ">")) } else { skip(to: UInt8(ascii: ")")); return .other }
                case UInt8(ascii: "'"):
                    i += 1
                    skip(to: UInt8(ascii: "'"))
                default:
                    // Inline flags: (?i) (?-i) (?^i) apply to the rest; (?i:…) is a group.
                    while i < p.count, p[i] != UInt8(ascii: ")"), p[i] != UInt8(ascii: ":") {
                        let f = p[i]
                        guard (f | 0x20) >= 97 && (f | 0x20) <= 122 || f == UInt8(ascii: "-") || f == UInt8(ascii: "^") else {
                            // (?R), (?1), (?&name): recursion.
                            skip(to: UInt8(ascii: ")"))
                            return .other
                        }
                        i += 1
                    }
                    guard i < p.count else { return .other }
                    if p[i] == UInt8(ascii: ")") { i += 1; return .zeroWidth }
                    i += 1
                }
            }
            let inner = alternation(depth: depth + 1)
            guard i < p.count, p[i] == UInt8(ascii: ")") else { return .other }
            i += 1
            return keep ? .group(inner) : .zeroWidth
        }

        /// The minimum count of a quantifier at `i` (consumed, with its lazy or possessive
        /// suffix), or nil when none follows.
        mutating func parseQuantifier() -> Int? {
            guard i < p.count else { return nil }
            var minimum: Int?
            switch p[i] {
            case UInt8(ascii: "?"), UInt8(ascii: "*"): minimum = 0; i += 1
            case UInt8(ascii: "+"): minimum = 1; i += 1
            case UInt8(ascii: "{"):
                var j = i + 1
                var digits = 0
                var n = 0
                while j < p.count, p[j] >= 48 && p[j] <= 57 { n = min(n * 10 + Int(p[j] - 48), 100_000); j += 1; digits += 1 }
                var ok = false
                if j < p.count, p[j] == UInt8(ascii: "}") { ok = digits > 0 }
                else if j < p.count, p[j] == UInt8(ascii: ",") {
                    j += 1
                    var more = 0
                    while j < p.count, p[j] >= 48 && p[j] <= 57 { j += 1; more += 1 }
                    ok = j < p.count && p[j] == UInt8(ascii: "}") && (digits > 0 || more > 0)
                }
                guard ok else { return nil } // a literal brace
                i = j + 1
                minimum = n
            default:
                return nil
            }
            if i < p.count, p[i] == UInt8(ascii: "?") || p[i] == UInt8(ascii: "+") { i += 1 }
            return minimum
        }
    }
}

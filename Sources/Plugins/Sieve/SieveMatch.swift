import Pipeline

/// Comparators (RFC 4790 as RFC 5228 uses them) and match types (:is, :contains, :matches,
/// :regex, and RFC 5231's :value and :count).
enum SieveMatch {
    @inline(__always) static func fold(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equal(_ a: [UInt8], _ b: [UInt8], _ c: SieveComparator) -> Bool {
        switch c {
        case .octet: return a == b
        case .asciiCasemap:
            guard a.count == b.count else { return false }
            for i in 0..<a.count where fold(a[i]) != fold(b[i]) { return false }
            return true
        case .asciiNumeric: return order(a, b, c) == 0
        }
    }

    /// The comparator's ordering: negative, zero or positive.
    static func order(_ a: [UInt8], _ b: [UInt8], _ c: SieveComparator) -> Int {
        switch c {
        case .octet, .asciiCasemap:
            let n = min(a.count, b.count)
            for i in 0..<n {
                let x = c == .octet ? a[i] : fold(a[i]), y = c == .octet ? b[i] : fold(b[i])
                if x != y { return x < y ? -1 : 1 }
            }
            return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
        case .asciiNumeric:
            // RFC 4790 9.1: the leading digits as a number; no leading digit is positive infinity.
            func digits(_ s: [UInt8]) -> ArraySlice<UInt8>? {
                var end = 0
                while end < s.count, s[end] >= 0x30, s[end] <= 0x39 { end += 1 }
                if end == 0 { return nil }
                var start = 0
                while start < end - 1, s[start] == 0x30 { start += 1 }
                return s[start..<end]
            }
            switch (digits(a), digits(b)) {
            case (nil, nil): return 0
            case (nil, _): return 1
            case (_, nil): return -1
            case (let x?, let y?):
                if x.count != y.count { return x.count < y.count ? -1 : 1 }
                for (p, q) in zip(x, y) where p != q { return p < q ? -1 : 1 }
                return 0
            }
        }
    }

    static func relation(_ r: SieveRelation, _ o: Int) -> Bool {
        switch r {
        case .gt: return o > 0
        case .ge: return o >= 0
        case .lt: return o < 0
        case .le: return o <= 0
        case .eq: return o == 0
        case .ne: return o != 0
        }
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8], _ c: SieveComparator) -> Bool {
        if needle.isEmpty { return true }
        guard needle.count <= hay.count else { return false }
        let fn = c == .octet ? needle : needle.map(fold)
        let first = fn[0]
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            let h0 = c == .octet ? hay[i] : fold(hay[i])
            if h0 == first {
                var j = 1
                while j < fn.count, (c == .octet ? hay[i + j] : fold(hay[i + j])) == fn[j] { j += 1 }
                if j == fn.count { return true }
            }
            i += 1
        }
        return false
    }

    enum GlobToken { case byte(UInt8), one, star }

    static func compileGlob(_ pattern: [UInt8]) -> [GlobToken] {
        var out: [GlobToken] = []
        var i = 0
        while i < pattern.count {
            let b = pattern[i]
            if b == UInt8(ascii: "\\"), i + 1 < pattern.count { out.append(.byte(pattern[i + 1])); i += 2; continue }
            if b == UInt8(ascii: "*") {
                out.append(.star)
            } else if b == UInt8(ascii: "?") {
                out.append(.one)
            } else {
                out.append(.byte(b))
            }
            i += 1
        }
        return out
    }

    /// The length of the UTF-8 character at `i` (one byte for bytes that are not UTF-8).
    @inline(__always) static func charLength(_ s: [UInt8], _ i: Int) -> Int {
        let b = s[i]
        let n = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
        var k = 1
        while k < n, i + k < s.count, s[i + k] & 0xC0 == 0x80 { k += 1 }
        return k
    }

    /// `:matches`: `*` any run, `?` one character, `\` quotes. Each wildcard captures what it
    /// matched (RFC 5229 3.2); earlier wildcards match as little as they can.
    static func glob(_ s: [UInt8], _ p: [GlobToken], _ c: SieveComparator, captures: inout [Range<Int>]?) -> Bool {
        var si = 0, pi = 0
        var starP = -1, starS = 0
        // The wildcard ranges in pattern order; on backtracking the last star's range grows.
        var ranges: [Range<Int>] = []
        var rangesAtStar = 0
        let want = captures != nil
        var steps = 0
        while si < s.count || pi < p.count {
            steps += 1
            if steps > 1_000_000 { return false }
            if pi < p.count {
                switch p[pi] {
                case .star:
                    starP = pi
                    starS = si
                    if want { rangesAtStar = ranges.count; ranges.append(si..<si) }
                    pi += 1
                    continue
                case .one:
                    if si < s.count {
                        let n = charLength(s, si)
                        if want { ranges.append(si..<(si + n)) }
                        si += n
                        pi += 1
                        continue
                    }
                case .byte(let b):
                    if si < s.count, c == .octet ? s[si] == b : fold(s[si]) == fold(b) {
                        si += 1
                        pi += 1
                        continue
                    }
                }
            }
            guard starP >= 0, starS < s.count else { return false }
            starS += charLength(s, starS)
            si = starS
            pi = starP + 1
            if want {
                ranges.removeSubrange((rangesAtStar + 1)...)
                ranges[rangesAtStar] = ranges[rangesAtStar].lowerBound..<starS
            }
        }
        if want { captures = ranges }
        return true
    }

    /// Whether `value` matches `key`; for :matches and :regex, `captures` gets `${0}` … `${n}`.
    static func match(_ value: String, key: String, regex: PCRERegex?, _ m: SieveMatcher,
                      captures: inout [String]?) throws(SieveRuntimeError) -> Bool {
        let v = Array(value.utf8), k = Array(key.utf8)
        switch m.type {
        case .is: return equal(v, k, m.comparator)
        case .contains: return contains(v, k, m.comparator)
        case .value(let r): return relation(r, order(v, k, m.comparator))
        case .count: return false
        case .matches:
            var ranges: [Range<Int>]? = captures == nil ? nil : []
            guard glob(v, compileGlob(k), m.comparator, captures: &ranges) else { return false }
            if let ranges {
                captures = [value] + ranges.map { String(decoding: v[$0], as: UTF8.self) }
            }
            return true
        case .regex:
            let re: PCRERegex
            if let regex { re = regex } else {
                do { re = try PCRERegex(key, options: m.comparator == .asciiCasemap ? [.utf, .caseless] : [.utf]) }
                catch { throw SieveRuntimeError("invalid regular expression '\(key)' for regex match: \(error.message)") }
            }
            let found: PCRERegex.Match?
            do { found = try re.firstMatch(in: v) } catch { throw SieveRuntimeError("regex match failed: \(error.message)") }
            guard let found else { return false }
            if captures != nil {
                captures = found.groups.map { $0.map { String(decoding: v[$0], as: UTF8.self) } ?? "" }
            }
            return true
        }
    }
}

/// An error while a script runs: the implicit keep takes over (RFC 5228 2.10.6).
struct SieveRuntimeError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Splits a regex that is too large for PCRE2 (Debian builds it with 2-byte links: 64 KiB of
/// compiled code) into several smaller ones whose union matches the same places: the
/// alternatives of its largest alternation are divided into chunks, each compiled with the
/// text around the alternation. Perl has no such limit, and SpamAssassin's ReplaceTags
/// expansions reach it.
///
/// Only an alternation group that is not quantified is split, and only when the pattern has no
/// back references (group numbers stay, but a reference into another chunk would not).
enum AlternationSplitter {
    /// Source bytes per chunk to try first; compiled code is a few times larger, so a chunk
    /// that is still too large is split again with half the size.
    static let chunkSize = 6_000

    static func split(_ pattern: String, chunkSize: Int = chunkSize) -> [String]? {
        let p = Array(pattern.utf8)
        guard !hasBackReference(p) else { return nil }
        // Find every group's span and its top-level '|' positions.
        var stack: [(open: Int, bars: [Int])] = []
        var best: (open: Int, close: Int, bars: [Int])?
        var topBars: [Int] = []
        var i = 0
        var inClass = false
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if inClass {
                if c == UInt8(ascii: "]") { inClass = false }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "["):
                inClass = true
                if i + 1 < p.count, p[i + 1] == UInt8(ascii: "]") { i += 1 }
                if i + 2 < p.count, p[i + 1] == UInt8(ascii: "^"), p[i + 2] == UInt8(ascii: "]") { i += 2 }
            case UInt8(ascii: "("):
                stack.append((i, []))
            case UInt8(ascii: ")"):
                guard let g = stack.popLast() else { return nil }
                let quantified = i + 1 < p.count && [UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{")].contains(p[i + 1])
                let lookaround = g.open + 2 < p.count && p[g.open + 1] == UInt8(ascii: "?")
                    && [UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<")].contains(p[g.open + 2])
                if !g.bars.isEmpty, !quantified, !lookaround, i - g.open > (best.map { $0.close - $0.open } ?? 0) {
                    best = (g.open, i, g.bars)
                }
            case UInt8(ascii: "|"):
                if stack.isEmpty { topBars.append(i) } else { stack[stack.count - 1].bars.append(i) }
            default:
                break
            }
            i += 1
        }
        guard stack.isEmpty else { return nil }
        if !topBars.isEmpty {
            return chunks(p, alternativesFrom: -1, to: p.count, bars: topBars, prefix: [], suffix: [], size: chunkSize)
        }
        guard let g = best else { return nil }
        // The group's opening: "(", "(?:", "(?i:" …, up to the first alternative.
        var start = g.open + 1
        if p[start] == UInt8(ascii: "?") {
            while start < g.close, p[start] != UInt8(ascii: ":") { start += 1 }
            start += 1
        }
        let prefix = Array(p[0..<start])
        let suffix = Array(p[g.close...])
        return chunks(p, alternativesFrom: start - 1, to: g.close, bars: g.bars, prefix: prefix, suffix: suffix, size: chunkSize)
    }

    static func chunks(_ p: [UInt8], alternativesFrom before: Int, to end: Int, bars: [Int], prefix: [UInt8], suffix: [UInt8], size chunkSize: Int) -> [String]? {
        var alternatives: [ArraySlice<UInt8>] = []
        var from = before + 1
        for b in bars {
            alternatives.append(p[from..<b])
            from = b + 1
        }
        alternatives.append(p[from..<end])
        guard alternatives.count > 1 else { return nil }
        var out: [String] = []
        var current: [UInt8] = []
        for a in alternatives {
            if !current.isEmpty, current.count + a.count > chunkSize {
                out.append(String(decoding: prefix + current + suffix, as: UTF8.self))
                current = []
            }
            if !current.isEmpty { current.append(UInt8(ascii: "|")) }
            current += a
        }
        if !current.isEmpty { out.append(String(decoding: prefix + current + suffix, as: UTF8.self)) }
        return out.count > 1 ? out : nil
    }

    static func hasBackReference(_ p: [UInt8]) -> Bool {
        var i = 0
        while i + 1 < p.count {
            if p[i] == UInt8(ascii: "\\") {
                let n = p[i + 1]
                if (n >= 49 && n <= 57) || n == UInt8(ascii: "k") || n == UInt8(ascii: "g") { return true }
                i += 2
                continue
            }
            i += 1
        }
        return false
    }
}

/// One pass over a text that tells which of many literals occur in it (Aho-Corasick, compiled
/// to a DFA over byte classes, ASCII case folded).
///
/// Built once per rule type when the rules are compiled; immutable and shared. A scan costs
/// one table lookup per byte, whatever the number of literals, then one walk over the states.
struct LiteralScanner: Sendable {
    /// Byte → column (letters folded to lower case; bytes no literal uses share column 0).
    private let byteClass: [UInt8]
    private let columns: Int
    /// Transitions: `delta[state * columns + column]`.
    private let delta: [Int32]
    /// The fail link of each state, and the states in breadth-first order.
    private let fail: [Int32]
    private let order: [Int32]
    /// The state each literal ends in.
    private let terminal: [Int32]

    var literalCount: Int { terminal.count }

    init(_ literals: [[UInt8]]) {
        var cls = [UInt8](repeating: 0, count: 256)
        var next: UInt8 = 1
        for l in literals {
            for b in l where cls[Int(b)] == 0 {
                guard next < 255 else { break }
                cls[Int(b)] = next
                next += 1
            }
        }
        // Upper-case letters read as their lower-case column.
        for u in 65...90 { cls[u] = cls[u | 0x20] }
        let cols = Int(next)
        var trie: [[Int32]] = [[Int32](repeating: -1, count: cols)]
        var terminal: [Int32] = []
        for l in literals {
            var s = 0
            for b in l {
                let c = Int(cls[Int(RequiredLiterals.lower(b))])
                if trie[s][c] < 0 {
                    trie.append([Int32](repeating: -1, count: cols))
                    trie[s][c] = Int32(trie.count - 1)
                }
                s = Int(trie[s][c])
            }
            terminal.append(Int32(s))
        }
        var fail = [Int32](repeating: 0, count: trie.count)
        var order: [Int32] = [0]
        var delta = [Int32](repeating: 0, count: trie.count * cols)
        var head = 0
        for c in 0..<cols {
            let t = trie[0][c]
            if t >= 0 { delta[c] = t; order.append(t) } else { delta[c] = 0 }
        }
        head = 1
        while head < order.count {
            let s = Int(order[head])
            head += 1
            for c in 0..<cols {
                let t = trie[s][c]
                if t >= 0 {
                    fail[Int(t)] = delta[Int(fail[s]) * cols + c]
                    delta[s * cols + c] = t
                    order.append(t)
                } else {
                    delta[s * cols + c] = delta[Int(fail[s]) * cols + c]
                }
            }
        }
        byteClass = cls
        columns = cols
        self.delta = delta
        self.fail = fail
        self.order = order
        self.terminal = terminal
    }

    /// Which literals occur in any of `texts` (indexed like the literals given to init).
    func scan(_ texts: [[UInt8]]) -> [Bool] {
        var seen = [Bool](repeating: false, count: fail.count)
        byteClass.withUnsafeBufferPointer { cls in
            delta.withUnsafeBufferPointer { d in
                seen.withUnsafeMutableBufferPointer { v in
                    for t in texts {
                        var s = 0
                        t.withUnsafeBufferPointer { bytes in
                            for b in bytes {
                                s = Int(d[s * columns + Int(cls[Int(b)])])
                                v[s] = true
                            }
                        }
                    }
                }
            }
        }
        // A state reached means every state on its fail chain was reached too; deeper states
        // come later in breadth-first order, so one backward walk carries the marks.
        for k in stride(from: order.count - 1, through: 1, by: -1) {
            let s = Int(order[k])
            if seen[s] { seen[Int(fail[s])] = true }
        }
        return terminal.map { seen[Int($0)] }
    }
}

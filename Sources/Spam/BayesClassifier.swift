import Pipeline

/// SpamAssassin's Bayes classifier over a ``BayesStore``: per-token probabilities with
/// Robinson's f(w) for rare tokens, the 150 strongest tokens past the minimum strength,
/// combined with Fisher's chi-squared method (Bayes/CombineChi.pm), and learning and
/// forgetting messages by id.
public struct BayesClassifier: Sendable {
    public let store: BayesStore
    public let settings: BayesSettings

    public init(store: BayesStore, settings: BayesSettings) {
        self.store = store
        self.settings = settings
    }

    /// Robinson's s and x, and the strength below which a token is left out.
    static let robinsonS = 0.030
    static let robinsonX = 0.538
    static let minProbStrength = 0.346
    static let significantTokens = 150

    /// Whether the database holds enough of both kinds (bayes_min_spam_num, bayes_min_ham_num).
    func isAvailable(_ t: BayesStore.Transaction) throws -> Bool {
        let (ns, nn) = try t.counts()
        return ns >= settings.minSpam && nn >= settings.minHam
    }

    /// The spam probability of a message's tokens, or nil when none is known.
    func probability(_ tokens: Set<[UInt8]>, _ t: BayesStore.Transaction) throws -> Double? {
        let (ns, nn) = try t.counts()
        guard ns > 0, nn > 0 else { return nil }
        let threshold: UInt32 = settings.useHapaxes ? 1 : 2
        var probs: [Double] = []
        for tok in tokens {
            guard let c = try t.token(tok), c.spam + c.ham >= threshold else { continue }
            let s = Double(c.spam), n = Double(c.ham)
            let p = (s * Double(nn)) / (n * Double(ns) + s * Double(nn))
            let robn = s + n
            probs.append((Self.robinsonS * Self.robinsonX + robn * p) / (Self.robinsonS + robn))
        }
        guard !probs.isEmpty else { return nil }
        probs.sort { abs($0 - 0.5) > abs($1 - 0.5) }
        let strong = probs.prefix(Self.significantTokens).filter { abs($0 - 0.5) >= Self.minProbStrength }
        guard !strong.isEmpty else { return nil }
        return Self.combine(spam: ns, ham: nn, strong)
    }

    /// Fisher's method: the products of (1 − p) and of p, kept from underflow by splitting
    /// off binary exponents, each turned into a chi-squared probability.
    static func combine(spam ns: Int, ham nn: Int, _ probs: [Double]) -> Double {
        let total = Double(ns + nn)
        var s = Double(ns) / total, h = Double(nn) / total
        var sExp = 0, hExp = 0
        for p in probs {
            s *= 1 - p
            h *= p
            if s < 1e-200 { let f = frexp(s); s = f.0; sExp += f.1 }
            if h < 1e-200 { let f = frexp(h); h = f.0; hExp += f.1 }
        }
        let ln2 = 0.6931471805599453
        let sLog = log(s) + Double(sExp) * ln2
        let hLog = log(h) + Double(hExp) * ln2
        let sChi = 1 - chi2q(-2 * sLog, probs.count)
        let hChi = 1 - chi2q(-2 * hLog, probs.count)
        return ((sChi - hChi) + 1) / 2
    }

    /// The chi-squared survival function for 2·halfv degrees of freedom.
    static func chi2q(_ x2: Double, _ halfv: Int) -> Double {
        let m = x2 / 2
        var term = exp(-m)
        var sum = term
        var i = 1
        while i < halfv {
            term *= m / Double(i)
            sum += term
            i += 1
        }
        return min(sum, 1)
    }

    /// check_bayes(min, max): the probability is above min (or min is 0) and at most max
    /// (or max is "undef").
    static func inRange(_ p: Double?, _ arguments: [String]) -> Bool {
        guard let p, arguments.count >= 2, let lo = Double(arguments[0]) else { return false }
        let hiText = arguments[1]
        guard lo == 0 || p > lo else { return false }
        if hiText == "undef" { return true }
        guard let hi = Double(hiText) else { return false }
        return p <= hi
    }

    static func format4(_ p: Double) -> String {
        let n = Int((p * 10000).rounded())
        let frac = String(n % 10000)
        return "\(n / 10000)." + String(repeating: "0", count: 4 - frac.count) + frac
    }

    // MARK: learning

    public enum Outcome: Sendable, Equatable { case learned, alreadyKnown, forgotten, unknown }

    /// Learns a message's tokens as spam or ham. The same id learned again the same way is a
    /// no-op; learned the other way, it is forgotten first.
    func learn(_ tokens: Set<[UInt8]>, id: String, isSpam: Bool, time: UInt32, _ t: BayesStore.Transaction) throws -> Outcome {
        let mark: UInt8 = isSpam ? UInt8(ascii: "s") : UInt8(ascii: "h")
        if let seen = try t.seen(id) {
            if seen == mark { return .alreadyKnown }
            _ = try forget(tokens, id: id, t)
        }
        var (ns, nn) = try t.counts()
        if isSpam { ns += 1 } else { nn += 1 }
        try t.setCounts(spam: ns, ham: nn)
        for tok in tokens {
            var c = try t.token(tok) ?? BayesStore.TokenCounts(spam: 0, ham: 0, atime: 0)
            if isSpam { c.spam &+= 1 } else { c.ham &+= 1 }
            c.atime = max(c.atime, time)
            try t.setToken(tok, c)
        }
        try t.setSeen(id, mark)
        return .learned
    }

    /// Undoes what learning the message did, if it was learned.
    func forget(_ tokens: Set<[UInt8]>, id: String, _ t: BayesStore.Transaction) throws -> Outcome {
        guard let seen = try t.seen(id) else { return .unknown }
        let wasSpam = seen == UInt8(ascii: "s")
        var (ns, nn) = try t.counts()
        if wasSpam { ns -= 1 } else { nn -= 1 }
        try t.setCounts(spam: ns, ham: nn)
        for tok in tokens {
            guard var c = try t.token(tok) else { continue }
            if wasSpam { c.spam = c.spam > 0 ? c.spam - 1 : 0 } else { c.ham = c.ham > 0 ? c.ham - 1 : 0 }
            try t.setToken(tok, c)
        }
        try t.setSeen(id, nil)
        return .forgotten
    }

    /// The id a message is learned under: a digest of its header and body (as SpamAssassin
    /// generates one), so the same message is recognised whichever file it is in.
    static func messageID(_ m: SpamMessage) -> String {
        var h1: UInt64 = 0xcbf29ce484222325, h2: UInt64 = 0x84222325cbf29ce4
        for b in m.full where b != 13 {
            h1 = (h1 ^ UInt64(b)) &* 0x100000001b3
            h2 = (h2 &+ UInt64(b) &+ 1) &* 0x9E3779B97F4A7C15
            h2 ^= h2 >> 29
        }
        func hex(_ x: UInt64) -> String { let s = String(x, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
        return hex(h1) + hex(h2) + "@mdad_generated"
    }
}

#if canImport(Glibc)
import Glibc
#endif

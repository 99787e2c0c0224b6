#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The Sender Rewriting Scheme (Shevek's paper, as libsrs2 and postsrsd implement it).
///
/// A forwarder rewrites the envelope sender `user@origin.example` into an address of its own
/// domain, `SRS0=HHHH=TT=origin.example=user@forwarder.example`, so that SPF at the next hop
/// checks the forwarder; a bounce to that address comes back here and is reversed to the
/// original sender. `HHHH` is an HMAC-SHA1 of the rest, so nobody else can make us relay to an
/// address of their choosing, and `TT` a day number in base 32, so an address expires.
/// Forwarding an SRS0 address again (a second forwarder) makes an SRS1 address that keeps
/// the first forwarder's host, so the bounce goes back through it:
/// `SRS1=HHHH=first.example==HHHH=TT=origin.example=user@second.example`.
public struct SRS: Sendable {
    /// The domain of the rewritten addresses (`srs_domain`).
    public let domain: String
    /// The first signs, every one verifies (rotation: add a new first line, keep the old ones
    /// for the maximum age, then drop them).
    public let secrets: [[UInt8]]
    /// The separator after `SRS0`/`SRS1`: `=`, `+` or `-` (postsrsd's `-a`).
    public let separator: Character
    /// Characters of the hash written (postsrsd's `-n`, 4) and the fewest accepted (`-N`, 4).
    public let hashLength: Int
    public let hashMinimum: Int
    /// Days a rewritten address stays valid (libsrs2's `maxage`, 21).
    public let maximumAge: Int

    public init(domain: String, secrets: [[UInt8]], separator: Character = "=", hashLength: Int = 4,
                hashMinimum: Int = 4, maximumAge: Int = 21) {
        self.domain = domain
        self.secrets = secrets
        self.separator = separator
        self.hashLength = max(1, min(hashLength, 27))
        self.hashMinimum = max(1, min(hashMinimum, self.hashLength))
        self.maximumAge = maximumAge
    }

    /// Why an address does not reverse.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// Not SRS0/SRS1, or its fields are missing.
        case notSRS(String)
        case hashInvalid
        case hashTooShort
        case timestampExpired
        case timestampInvalid

        public var description: String {
            switch self {
            case .notSRS(let why): return "not an SRS address: \(why)"
            case .hashInvalid: return "hash invalid (forged or signed with an unknown secret)"
            case .hashTooShort: return "hash too short"
            case .timestampExpired: return "timestamp out of date"
            case .timestampInvalid: return "bad timestamp"
            }
        }

        /// The status a bounce to such an address gets: a forged or expired one is refused
        /// by policy (5.7.1), a malformed one is simply not a user here (5.1.1).
        public var status: DeliveryStatus {
            switch self {
            case .notSRS: return DeliveryStatus(.unknownUser, "User unknown: malformed SRS address", reason: "SRS: \(self)")
            case .hashInvalid, .hashTooShort:
                return DeliveryStatus(.policyRejection, "Invalid SRS address: bad signature", reason: "SRS: \(self)")
            case .timestampExpired, .timestampInvalid:
                return DeliveryStatus(.policyRejection, "Invalid SRS address: expired", reason: "SRS: \(self)")
            }
        }
    }

    static let timeAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    /// The standard base 64 alphabet (RFC 4648), as postsrsd 1.x writes the hash. (Some copies
    /// of libsrs2 swap `n` and `m`; the differential test against postsrsd caught that.)
    static let hashAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let dayLength = 86_400
    static let timeSlots = 1024
    /// An address longer than this is refused before any work (SMTP's path limit is 256).
    static let maximumLength = 1000

    static func isTag(_ local: Substring, _ tag: String) -> Bool {
        local.count > 4 && local.prefix(4).lowercased() == tag.lowercased() && "=+-".contains(local[local.index(local.startIndex, offsetBy: 4)])
    }

    /// Whether the local part looks like SRS0/SRS1 (tag and a separator).
    public static func isSRS(_ address: String) -> Bool {
        let local = address.lastIndex(of: "@").map { address[..<$0] } ?? address[...]
        return isTag(local, "SRS0") || isTag(local, "SRS1")
    }

    /// The rewritten sender, or nil when it is left as it is: the null sender, an address
    /// without a domain, one already in `domain`, or an SRS address we signed.
    public func forward(_ sender: String, now: Int = Int(time(nil))) -> String? {
        guard sender.count <= Self.maximumLength, let at = sender.lastIndex(of: "@") else { return nil }
        let user = sender[..<at], host = sender[sender.index(after: at)...]
        // An empty local part is rewritten too, as postsrsd does.
        guard !host.isEmpty, host.lowercased() != domain.lowercased() else { return nil }
        // Only printable ASCII is rewritten, and a domain never holds "=": anything else might
        // not reverse to the same sender (a combining mark after "=" hides the separator from
        // the split), so such a sender is left as it is (both found by fuzzing).
        guard sender.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), !host.contains("=") else { return nil }
        let sep = String(separator)
        // An SRS address our own secrets sign (seen under another of our names) is not
        // rewritten again: postsrsd answers "Already rewritten".
        if Self.isTag(user, "SRS0") || Self.isTag(user, "SRS1"), (try? reverse(sender, now: now)) != nil { return nil }
        if Self.isTag(user, "SRS1") {
            // SRS1=hash=host=rest: keep the first forwarder's host and the rest, sign anew.
            let fields = user.dropFirst(5).split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[1].isEmpty else { return nil }
            let (firstHost, rest) = (String(fields[1]), String(fields[2]))
            return "SRS1\(sep)\(hash([firstHost, rest]))=\(firstHost)=\(rest)@\(domain)"
        }
        if Self.isTag(user, "SRS0") {
            // SRS0=… from the host that wrote it: that host becomes the first forwarder; the
            // rest keeps its separator, hence SRS1's `==`.
            let rest = String(user.dropFirst(4)), firstHost = String(host)
            return "SRS1\(sep)\(hash([firstHost, rest]))=\(firstHost)=\(rest)@\(domain)"
        }
        let stamp = Self.timestamp(now: now)
        return "SRS0\(sep)\(hash([stamp, String(host), String(user)]))=\(stamp)=\(host)=\(user)@\(domain)"
    }

    /// The address an SRS address stands for: an SRS0 address gives the original sender, an
    /// SRS1 address the first forwarder's SRS0 address. The domain is not looked at (the
    /// caller decides which domains are its own).
    public func reverse(_ address: String, now: Int = Int(time(nil))) throws(Failure) -> String {
        guard address.count <= Self.maximumLength else { throw .notSRS("too long") }
        let local = address.lastIndex(of: "@").map { address[..<$0] } ?? address[...]
        if Self.isTag(local, "SRS1") {
            let f = local.dropFirst(5).split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, !f[0].isEmpty, !f[1].isEmpty, !f[2].isEmpty else { throw .notSRS("SRS1 needs hash, host and user") }
            try check(hash: f[0], over: [String(f[1]), String(f[2])])
            return "SRS0\(f[2])@\(f[1])"
        }
        guard Self.isTag(local, "SRS0") else { throw .notSRS("no SRS0 or SRS1 tag") }
        let f = local.dropFirst(5).split(separator: "=", maxSplits: 3, omittingEmptySubsequences: false)
        guard f.count == 4, !f[0].isEmpty, !f[1].isEmpty, !f[2].isEmpty else {
            throw .notSRS("SRS0 needs hash, timestamp, host and user")
        }
        try checkTimestamp(f[1], now: now)
        try check(hash: f[0], over: [String(f[1]), String(f[2]), String(f[3])])
        return "\(f[3])@\(f[2])"
    }

    /// Today's day number modulo 1024, in two base-32 characters.
    static func timestamp(now: Int) -> String {
        let day = now / dayLength
        return String(decoding: [timeAlphabet[(day >> 5) & 31], timeAlphabet[day & 31]], as: UTF8.self)
    }

    func checkTimestamp(_ stamp: Substring, now: Int) throws(Failure) {
        guard stamp.utf8.count == 2 else { throw .timestampInvalid }
        var then = 0
        for c in stamp.uppercased().utf8 {
            guard let v = Self.timeAlphabet.firstIndex(of: c) else { throw .timestampInvalid }
            then = then << 5 | v
        }
        var today = (now / Self.dayLength) % Self.timeSlots
        if today < then { today += Self.timeSlots }
        guard today <= then + maximumAge else { throw .timestampExpired }
    }

    func check(hash given: Substring, over fields: [String]) throws(Failure) {
        guard given.count >= hashMinimum else { throw .hashTooShort }
        guard given.count <= hashLength else { throw .hashInvalid }
        let g = given.lowercased()
        for i in secrets.indices where hash(fields, secret: i).prefix(given.count).lowercased() == g { return }
        throw .hashInvalid
    }

    /// HMAC-SHA1 over the fields (lower-cased, concatenated) with a secret, in libsrs2's base 64,
    /// cut to `hashLength` characters.
    func hash(_ fields: [String], secret index: Int = 0) -> String {
        let data = fields.joined().utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        let digest = HMAC.compute(.sha1, key: secrets[index], data: data) ?? []
        var out: [UInt8] = []
        var bits = 0, value = 0
        for byte in digest where out.count < hashLength {
            value = value << 8 | Int(byte)
            bits += 8
            while bits >= 6 && out.count < hashLength {
                bits -= 6
                out.append(Self.hashAlphabet[(value >> bits) & 63])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether HMAC-SHA1 works here (libcrypto.so.3 loads).
    public static var cryptoAvailable: Bool { HMAC.isAvailable }
}

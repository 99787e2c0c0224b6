#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// The per-user store behind vacation (one reply per sender and handle per period) and the
/// duplicate test: a small file of `expiry key-hash` lines, locked while it is read and
/// rewritten, expired entries dropped, its size bounded.
public struct SieveResponseStore: Sendable {
    public let path: String
    /// The user who owns the file when root creates it.
    public var owner: (uid: uid_t, gid: gid_t)?
    static let maxEntries = 10_000

    public init(path: String, owner: (uid: uid_t, gid: gid_t)? = nil) {
        self.path = path
        self.owner = owner
    }

    /// FNV-1a, 64 bits: addresses are not kept in the clear.
    static func hash(_ key: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }

    /// Whether `key` was recorded and has not expired at `now`.
    public func contains(_ key: String, now: Int) -> Bool {
        (try? withLocked(now: now) { entries in entries[Self.hash(key)].map { $0 > now } ?? false }) ?? false
    }

    /// Records `key` until `now + seconds`.
    public func record(_ key: String, seconds: Int, now: Int) throws {
        try withLocked(now: now) { entries in
            entries[Self.hash(key)] = now + seconds
            Self.bound(&entries)
        }
    }

    /// Checks and records in one locked step: true when the key was fresh (and is now recorded).
    public func claim(_ key: String, seconds: Int, now: Int) throws -> Bool {
        try withLocked(now: now) { entries in
            let h = Self.hash(key)
            if let e = entries[h], e > now { return false }
            entries[h] = now + seconds
            Self.bound(&entries)
            return true
        }
    }

    /// Drops the entries that expire first once there are more than `maxEntries`.
    static func bound(_ entries: inout [String: Int]) {
        guard entries.count > maxEntries else { return }
        for (k, _) in entries.sorted(by: { $0.value < $1.value }).prefix(entries.count - maxEntries) { entries[k] = nil }
    }

    func withLocked<T>(now: Int, _ body: (inout [String: Int]) throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        if let owner, geteuid() == 0 { _ = fchown(fd, owner.uid, owner.gid) }
        guard flock(fd, LOCK_EX) == 0 else { throw SystemError("flock", path: path) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while data.count < 4 << 20 {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buf[..<n]
        }
        var entries: [String: Int] = [:]
        for line in data.split(separator: 10) {
            let f = line.split(separator: 32)
            guard f.count == 2, let exp = Int(String(decoding: f[0], as: UTF8.self)), exp > now else { continue }
            entries[String(decoding: f[1], as: UTF8.self)] = exp
        }
        let before = entries
        let value = try body(&entries)
        if entries != before {
            let text = Array(entries.map { "\($0.value) \($0.key)\n" }.joined().utf8)
            _ = ftruncate(fd, 0)
            _ = lseek(fd, 0, SEEK_SET)
            var off = 0
            while off < text.count {
                let n = text[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { throw SystemError("write", path: path) }
                off += n
            }
            _ = fsync(fd)
        }
        return value
    }
}

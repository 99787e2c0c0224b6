import CCrypto

/// OpenSSL's one-shot HMAC (RFC 2104) through the CCrypto shim: libcrypto.so.3 loaded at first
/// use, or libcrypto.a in the static mdad-deliver. SHA-1 signs SRS addresses; MD5 answers SMTP
/// AUTH CRAM-MD5.
enum HMAC {
    enum Digest {
        case sha1, md5
        var length: Int { self == .sha1 ? 20 : 16 }
    }

    /// The HMAC of `data` under `key`, or nil when libcrypto cannot be had.
    static func compute(_ digest: Digest, key: [UInt8], data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: digest.length)
        let length = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    mdad_hmac(digest == .sha1 ? 0 : 1, k.baseAddress, Int32(k.count),
                              d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count,
                              o.baseAddress?.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return Int(length) == digest.length ? out : nil
    }

    /// Whether HMAC works here (libcrypto loads, or is linked in).
    static var isAvailable: Bool { compute(.sha1, key: [1], data: [1]) != nil }
}

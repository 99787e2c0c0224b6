import Pipeline

/// CRAM-MD5 (RFC 2195): the SMTP client's answer to a server that offers neither PLAIN nor
/// LOGIN, or when plaintext mechanisms are not allowed. The HMAC-MD5 is OpenSSL's (libcrypto,
/// loaded at first use, as for SRS).
public enum CRAMMD5 {
    /// `username hex(HMAC-MD5(password, challenge))`, base64-encoded for the wire; nil for an
    /// empty challenge or when libcrypto cannot be loaded.
    public static func response(challengeBase64: String, credentials c: SASLCredentials) -> String? {
        let challenge = TransferDecoder.decode(Array(challengeBase64.utf8.prefix(8192)), .base64)
        guard !challenge.isEmpty, let digest = hmac(key: Array(c.password.utf8), message: challenge) else { return nil }
        return Base64.encode(Array((c.username + " " + hex(digest)).utf8))
    }

    /// Whether HMAC-MD5 works here (libcrypto.so.3 loads, or is linked in).
    public static var isAvailable: Bool { hmac(key: [1], message: [1]) != nil }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// HMAC-MD5 (RFC 2104) of `message` under `key`, or nil without libcrypto.
    public static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8]? {
        HMAC.compute(.md5, key: key, data: message)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// Counts the CR LF pairs that pass through to `inner`, for the `W=` field of a Maildir name.
///
/// `W=` is Dovecot's "virtual size": the message's size as IMAP sends it, with CRLF line
/// endings. Dovecot computes it by adding a CR before every LF *not already preceded by a CR*,
/// and renames a file whose `W=` disagrees ("Maildir filename has wrong W value") after
/// failing the FETCH that noticed it. A stored file has LF line endings, but a bare CR of the
/// message stays, so a line that ended in CR CR LF is stored ending in CR LF: that LF gets no
/// extra byte. Hence `W = S + line feeds − CR LF pairs`.
struct CRLFCounter<Inner: ByteSink>: ByteSink {
    var inner: Inner
    private(set) var pairs = 0
    private var lastWasCR = false

    init(_ inner: Inner) { self.inner = inner }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        if lastWasCR && bytes[0] == 10 { pairs += 1 }
        var start = 0
        // Mail stored with LF endings rarely holds a CR: memchr skips the rest quickly.
        while start < bytes.count, let hit = memchr(base + start, 13, bytes.count - start) {
            let cr = base.distance(to: UnsafeRawPointer(hit))
            if cr + 1 < bytes.count && bytes[cr + 1] == 10 { pairs += 1 }
            start = cr + 1
        }
        lastWasCR = bytes[bytes.count - 1] == 13
        try inner.write(bytes)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// One HTTP exchange with rspamd over a socket, blocking, under one deadline for the whole
/// exchange (connect, send and reply together), so a stalled rspamd costs at most
/// `rspamd_timeout` seconds.
public enum RspamdClient {
    /// The most reply bytes read: rspamd's JSON for a message is a few kilobytes.
    static let replyLimit = 4 << 20

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `inet:host:port`, `host:port` or `unix:/path`, as the spamd stage's endpoints.
    static func endpoint(_ address: String) -> SpamdClient.Endpoint? {
        SpamdClient.Endpoint(address.hasPrefix("inet:") ? String(address.dropFirst(5)) : address)
    }

    /// Sends `request` and reads the reply until rspamd closes the connection or the body
    /// announced by Content-Length is complete.
    public static func exchange(_ address: String, _ request: [UInt8], timeout: Double) throws -> [UInt8] {
        guard let endpoint = endpoint(address) else { throw Failure(description: "bad address \(address)") }
        let deadline = Subprocess.monotonicSeconds() + timeout
        let fd = try SpamdClient.connect(endpoint, timeout: max(1, Int(timeout.rounded(.up))))
        defer { close(fd) }
        /// Sets the socket's timeouts to what is left; throws when nothing is.
        func remaining(_ doing: String) throws {
            let left = deadline - Subprocess.monotonicSeconds()
            guard left > 0 else { throw Failure(description: "timed out after \(RuleSet.format1(timeout)) s while \(doing)") }
            var tv = timeval(tv_sec: Int(left), tv_usec: min(999_999, Int((left - Double(Int(left))) * 1e6) + 1))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        var sent = 0
        while sent < request.count {
            try remaining("sending")
            let n = request.withUnsafeBytes { p in Glibc.send(fd, p.baseAddress! + sent, min(request.count - sent, 1 << 16), Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { continue } // the deadline check ends it
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var expected: Int?
        while reply.count <= replyLimit {
            try remaining("waiting for the reply")
            let n = buf.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                throw Failure(description: "recv: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            reply += buf[0..<n]
            if expected == nil { expected = completeLength(reply) }
            if let e = expected, reply.count >= e { break }
        }
        guard reply.count <= replyLimit else { throw Failure(description: "reply longer than \(replyLimit) bytes") }
        return reply
    }

    /// Header length plus Content-Length, once the header is complete and has one.
    static func completeLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(min(bytes.count, RspamdProtocol.headLimit) - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            for line in String(decoding: bytes[0..<i], as: UTF8.self).split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-length" else { continue }
                if let n = Int(line[line.index(after: colon)...].trimmingWhitespace()), n >= 0 { return i + 4 + n }
            }
            return nil
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Logging
import Pipeline

/// The `spamd` stage: asks a running spamd (SpamAssassin's daemon) over SPAMC/1.5, as spamc
/// does, and applies its verdict like the `spam` stage: spamd's X-Spam-* headers, the Junk
/// folder, rejection above a score.
///
///     pipeline = spamd
///     spamd_address = 127.0.0.1:783        # or unix:/run/spamd.sock
///     spamd_failure_policy = accept        # or tempfail
public struct SpamdStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("spamd_address", .string, default: "127.0.0.1:783", "Where spamd listens: host:port, or unix:/path."),
        .init("spamd_timeout", .integer, default: "30", "Seconds to wait for spamd (connect, send and reply each)."),
        .init("spamd_failure_policy", .string, default: "accept",
              "When spamd cannot be asked: accept (deliver untagged, as spamc does) or tempfail (defer with 4.7.1)."),
        .init("spamd_user", .string, default: "", "The User: spamd scores for (its per-user preferences); empty: none."),
        .init("spamd_folder", .string, default: "", "Folder that spam is filed into for each recipient; empty: tag only."),
        .init("spamd_reject_score", .string, default: "", "Score at or above which a recipient refuses the message with 550 5.7.1; empty: never."),
        .init("spamd_max_size", .size, default: "512000", "Larger messages are not sent to spamd (spamc's default limit); 0 means no limit."),
    ]

    public enum FailurePolicy: String, Sendable { case accept, tempfail }

    let address: String
    let timeout: Int
    let policy: FailurePolicy
    let user: String?
    let folder: String?
    let rejectScore: Double?
    let maxSize: Int

    public init(configuration c: Configuration) throws {
        address = try c.string("spamd_address").trimmingWhitespace()
        timeout = try c.integer("spamd_timeout")
        guard timeout > 0, timeout <= 3600 else { throw c.error("spamd_timeout", "spamd_timeout = \(timeout); expected 1 to 3600 seconds") }
        let p = try c.string("spamd_failure_policy").trimmingWhitespace().lowercased()
        guard let policy = FailurePolicy(rawValue: p) else {
            throw c.error("spamd_failure_policy", "spamd_failure_policy = \(p); expected accept or tempfail")
        }
        self.policy = policy
        let u = try c.string("spamd_user").trimmingWhitespace()
        user = u.isEmpty ? nil : u
        let f = try c.string("spamd_folder").trimmingWhitespace()
        folder = f.isEmpty ? nil : f
        rejectScore = try SpamStage.number(c, "spamd_reject_score")
        maxSize = try c.size("spamd_max_size")
        guard SpamdClient.Endpoint(address) != nil else {
            throw c.error("spamd_address", "spamd_address = \(address); expected host:port or unix:/path")
        }
    }

    public init(address: String, timeout: Int = 30, policy: FailurePolicy = .accept, user: String? = nil,
                folder: String? = nil, rejectScore: Double? = nil, maxSize: Int = 512_000) {
        self.address = address
        self.timeout = timeout
        self.policy = policy
        self.user = user
        self.folder = folder
        self.rejectScore = rejectScore
        self.maxSize = maxSize
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let m = transaction.message
        guard maxSize == 0 || m.receivedSize <= maxSize else { return .continue }
        let start = m.envelopeFromLine?.count ?? 0
        let bytes = try m.spool.read(offset: start, count: m.spool.size - start)
        let reply: SpamdProtocol.Reply
        do {
            let raw = try SpamdClient.exchange(address, SpamdProtocol.request(.process, message: bytes, user: user), timeout: timeout)
            reply = try SpamdProtocol.parse(raw)
        } catch {
            context.logger.warning("\(transaction.queueID): spamd \(address): \(error); \(policy == .accept ? "delivered unscanned" : "deferred")")
            if policy == .tempfail {
                transaction.deferAll(DeliveryStatus(EnhancedStatus(4, 7, 1), "Spam scanner unavailable, try again later", reason: "spamd \(address): \(error)"))
                return .stop
            }
            return .continue
        }
        if transaction.tracing {
            // Only `mdad trace` asks again, for the report that lists each hit with its score.
            let report = try? SpamdProtocol.parse(SpamdClient.exchange(address, SpamdProtocol.request(.report, message: bytes, user: user), timeout: timeout))
            SpamTrace.record(reply, report: report, in: &transaction)
        }
        var header = transaction.message.header
        let fields = reply.spamHeaders
        for name in Set(fields.map { $0.name.lowercased() }) + ["x-spam-flag", "x-spam-status", "x-spam-level"] { header.removeAll(name) }
        var added: [HeaderField] = []
        for (name, value) in fields {
            if let f = try? HeaderField(name: name, multilineValue: value) { added.append(f) }
        }
        header.fields.insert(contentsOf: added, at: 0)
        transaction.message.header = header
        context.logger.info("\(transaction.queueID): spamd: score=\(RuleSet.format1(reply.score)) required=\(RuleSet.format1(reply.threshold)) spam=\(reply.isSpam ? "yes" : "no")")
        SpamStage.applyActions(isSpam: reply.isSpam, score: reply.score, folder: folder, rejectScore: rejectScore, to: &transaction)
        return .continue
    }
}

/// One request to spamd over a socket, with a timeout on every step.
public enum SpamdClient {
    /// The most reply bytes read (a processed message).
    static let replyLimit = 64 << 20

    enum Endpoint {
        case tcp(host: String, port: String)
        case unix(String)

        init?(_ address: String) {
            if address.hasPrefix("unix:") {
                let path = String(address.dropFirst(5))
                guard !path.isEmpty, path.utf8.count < 100 else { return nil }
                self = .unix(path)
                return
            }
            guard let colon = address.lastIndex(of: ":") else { return nil }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let port = String(address[address.index(after: colon)...])
            guard !host.isEmpty, let p = Int(port), p > 0, p < 65536 else { return nil }
            self = .tcp(host: host, port: port)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `request` and reads the reply until spamd closes the connection.
    public static func exchange(_ address: String, _ request: [UInt8], timeout: Int) throws -> [UInt8] {
        guard let endpoint = Endpoint(address) else { throw Failure(description: "bad address \(address)") }
        let fd = try connect(endpoint, timeout: timeout)
        defer { close(fd) }
        try Posix.writeAll(fd, request)
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while reply.count <= replyLimit {
            let n = try buf.withUnsafeMutableBytes { try Posix.read(fd, into: $0) }
            if n <= 0 { break }
            reply += buf[0..<n]
        }
        return reply
    }

    static func connect(_ endpoint: Endpoint, timeout: Int) throws -> Int32 {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        func prepare(_ fd: Int32) {
            // On Linux SO_SNDTIMEO also bounds connect().
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        switch endpoint {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            prepare(fd)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in
                for (i, b) in path.utf8.enumerated() where i < p.count - 1 { p[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw Failure(description: "connect unix:\(path): \(String(cString: strerror(e)))")
            }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let gai = getaddrinfo(host, port, &hints, &list)
            guard gai == 0, let first = list else { throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(gai)))") }
            defer { freeaddrinfo(list) }
            var lastError = "no address"
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let ai = cursor {
                cursor = ai.pointee.ai_next
                let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
                guard fd >= 0 else { continue }
                prepare(fd)
                if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
                lastError = String(cString: strerror(errno))
                close(fd)
            }
            throw Failure(description: "connect \(host):\(port): \(lastError)")
        }
    }
}

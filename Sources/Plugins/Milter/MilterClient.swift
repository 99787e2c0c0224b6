#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Carries a ``MilterSession`` over a socket: connects, writes what the session says, reads what
/// the milter answers, with a deadline on each wait.
///
/// Blocking sockets on the calling (delivery) thread rather than NIO: the exchange is strictly
/// one request, one reply, for one message at a time, and every other external stage (filter
/// programs, pipes) already blocks its delivery thread the same way; NIO would add an
/// event-loop hop per packet and buy no concurrency here. `poll` bounds every wait.
public struct MilterClient: Sendable {
    public enum Endpoint: Sendable, Equatable {
        case inet(host: String, port: UInt16)
        case unix(path: String)

        /// `inet:HOST:PORT` or `unix:/path`, as Postfix's smtpd_milters writes them.
        public init(parsing text: String) throws(MilterError) {
            if text.hasPrefix("unix:") {
                let path = String(text.dropFirst(5))
                guard path.hasPrefix("/") else { throw MilterError("milter address \(text): expected unix:/absolute/path") }
                self = .unix(path: path)
            } else if text.hasPrefix("inet:") {
                let rest = text.dropFirst(5)
                guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
                    throw MilterError("milter address \(text): expected inet:HOST:PORT")
                }
                var host = String(rest[..<colon])
                if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                self = .inet(host: host, port: port)
            } else {
                throw MilterError("milter address \(text): expected inet:HOST:PORT or unix:/path")
            }
        }
    }

    public struct Timeouts: Sendable {
        public var connect: Double = 30
        public var command: Double = 30
        public var content: Double = 300
        public init(connect: Double = 30, command: Double = 30, content: Double = 300) {
            self.connect = connect
            self.command = command
            self.content = content
        }
    }

    public let endpoint: Endpoint
    public let timeouts: Timeouts

    public init(endpoint: Endpoint, timeouts: Timeouts = Timeouts()) {
        self.endpoint = endpoint
        self.timeouts = timeouts
    }

    /// Runs the whole conversation for one message.
    public func run(_ session: inout MilterSession) throws(MilterError) -> MilterSession.Outcome {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, session.start())
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let wait = session.awaitingEndOfMessage ? timeouts.content : timeouts.command
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&p, 1, Int32(max(1, min(wait * 1000, Double(Int32.max)))))
            if n < 0 {
                if currentErrno() == EINTR { continue }
                throw MilterError("poll: \(String(cString: strerror(currentErrno())))")
            }
            guard n > 0 else { throw MilterError("milter \(endpoint) did not answer within \(Int(wait))s") }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if currentErrno() == EINTR { continue }
                throw MilterError("reading from milter \(endpoint): \(String(cString: strerror(currentErrno())))")
            }
            guard count > 0 else { throw MilterError("milter \(endpoint) closed the connection in the middle of a message") }
            let actions: [MilterSession.Action]
            do {
                actions = try session.receive(buffer[0..<count])
            } catch {
                throw MilterError("milter \(endpoint): \(error)")
            }
            for a in actions {
                switch a {
                case .send(let bytes):
                    // The quit at the end may find the milter gone already; that is fine.
                    do { try send(fd, bytes) } catch {
                        if bytes.count == 5 && bytes[4] == Milter.Command.quit.rawValue { continue }
                        throw error
                    }
                case .finished(let outcome):
                    return outcome
                }
            }
        }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) throws(MilterError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send_nosignal(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if currentErrno() == EINTR { continue }
                if currentErrno() == EAGAIN {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    if poll(&p, 1, Int32(timeouts.command * 1000)) <= 0 { throw MilterError("milter \(endpoint) stopped reading") }
                    continue
                }
                throw MilterError("writing to milter \(endpoint): \(String(cString: strerror(currentErrno())))")
            }
            offset += n
        }
    }

    private func send_nosignal(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Int {
        Glibc.send(fd, p, count, Int32(MSG_NOSIGNAL))
    }

    private func connect() throws(MilterError) -> Int32 {
        switch endpoint {
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw MilterError("milter socket path too long: \(path)") }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw MilterError("socket: \(String(cString: strerror(currentErrno())))") }
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            if rc != 0 {
                let e = currentErrno()
                close(fd)
                throw MilterError("cannot connect to milter unix:\(path): \(String(cString: strerror(e)))")
            }
            return fd
        case .inet(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, let first = list else {
                throw MilterError("milter host \(host): \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(list) }
            var lastError = "no address"
            var ai: UnsafeMutablePointer<addrinfo>? = first
            while let a = ai {
                ai = a.pointee.ai_next
                let fd = socket(a.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                guard fd >= 0 else { continue }
                if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 && currentErrno() != EINPROGRESS {
                    lastError = String(cString: strerror(currentErrno()))
                    close(fd)
                    continue
                }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let n = poll(&p, 1, Int32(max(1, timeouts.connect * 1000)))
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if n <= 0 || err != 0 {
                    lastError = n <= 0 ? "timed out after \(Int(timeouts.connect))s" : String(cString: strerror(err))
                    close(fd)
                    continue
                }
                // Blocking from here on; poll bounds each read.
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                return fd
            }
            throw MilterError("cannot connect to milter inet:\(host):\(port): \(lastError)")
        }
    }
}

/// A milter that cannot be reached or that broke the protocol.
public struct MilterError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension MilterClient.Endpoint: CustomStringConvertible {
    public var description: String {
        switch self {
        case .inet(let h, let p): return "inet:\(h):\(p)"
        case .unix(let p): return "unix:\(p)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// MX, A and AAAA lookups over UDP (TCP when an answer is truncated) to one DNS server: `dns_resolver` when set (tests point it at a
/// local stub; nothing in a test queries a real DNS server), else the first nameserver of
/// /etc/resolv.conf. Blocking, with a timeout; called from a queue-manager worker before it
/// connects.
public struct DNSResolver: Sendable {
    public let host: String
    public let port: UInt16
    public let timeout: Int32

    public init(host: String, port: UInt16, timeout: Int32 = 5) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    /// From `dns_resolver` (`host:port`, or `host` for port 53); empty reads /etc/resolv.conf.
    public static func configured(_ spec: String) throws(ConfigError) -> DNSResolver {
        var s = spec
        if s.isEmpty {
            let conf = String(decoding: (try? Posix.readFile("/etc/resolv.conf", limit: 1 << 16)) ?? [], as: UTF8.self)
            s = conf.split(separator: "\n").compactMap { line -> String? in
                let w = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                return w.count >= 2 && w[0] == "nameserver" ? String(w[1]) : nil
            }.first ?? "127.0.0.1"
        }
        let parts = s.split(separator: ":")
        guard parts.count <= 2, let port = parts.count == 2 ? UInt16(parts[1]) : 53, inet_addr(String(parts[0])) != INADDR_NONE else {
            throw ConfigError("dns_resolver = \(spec): expected an IPv4 address with an optional :port")
        }
        return DNSResolver(host: String(parts[0]), port: port)
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
        /// NXDOMAIN: the name does not exist (permanent).
        public let notFound: Bool
    }

    public func ask(_ name: String, _ type: DNSMessage.RecordType) throws(Failure) -> [DNSMessage.Answer] {
        let id = UInt16.random(in: 0...UInt16.max)
        let q = DNSMessage.query(id: id, name: name, type: type)
        var r = try exchange(q, id: id, tcp: false, name: name)
        // A truncated answer is asked again over TCP (RFC 7766), as the system resolver does.
        if r.truncated { r = try exchange(q, id: id, tcp: true, name: name) }
        if r.rcode == 3 { throw Failure(description: "Host or domain name not found. Name service error for name=\(name) type=\(type.name): Host not found", notFound: true) }
        guard r.rcode == 0 else { throw Failure(description: "Host or domain name not found. Name service error for name=\(name): server failure (rcode \(r.rcode))", notFound: false) }
        return r.answers
    }

    /// One query and its answer, over UDP or TCP (two-byte length prefix), within `timeout`.
    func exchange(_ q: [UInt8], id: UInt16, tcp: Bool, name: String) throws(Failure) -> DNSMessage.Response {
        let fd = socket(AF_INET, Int32((tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))", notFound: false) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        let noAnswer = Failure(description: "Host or domain name not found. Name service error for name=\(name): no answer from \(host):\(port)\(tcp ? " over TCP" : "")", notFound: false)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if tcp {
            var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let ok = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            guard ok else { throw Failure(description: "cannot connect to DNS server \(host):\(port) over TCP: \(String(cString: strerror(errno)))", notFound: false) }
            let framed = [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
            guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else { throw noAnswer }
            // The length, then the message; a DNS message over TCP is at most 65,535 bytes.
            var got: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while got.count < 2 || got.count < 2 + (Int(got[0]) << 8 | Int(got[1])) {
                guard poll(&pfd, 1, timeout * 1000) == 1 else { throw noAnswer }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw noAnswer }
                got += buffer[0..<n]
            }
            let length = Int(got[0]) << 8 | Int(got[1])
            guard let r = try? DNSMessage.parse(Array(got[2..<(2 + length)])), r.id == id else { throw noAnswer }
            return r
        }
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                q.withUnsafeBytes { sendto(fd, $0.baseAddress, q.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == q.count else { throw Failure(description: "cannot send to DNS server \(host):\(port)", notFound: false) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<8 {
            guard poll(&pfd, 1, timeout * 1000) == 1 else { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            guard let r = try? DNSMessage.parse(Array(buffer[0..<n])), r.id == id else { continue }
            return r
        }
        throw noAnswer
    }

    /// Where mail for `domain` goes: its MX hosts by preference, each with its addresses; a
    /// domain without MX records is its own mail host (RFC 5321 5.1).
    public func mailHosts(_ domain: String) throws(Failure) -> [(name: String, addresses: [String])] {
        let mx = try ask(domain, .mx).compactMap { a -> (Int, String)? in
            if case .mx(let p, let x) = a { return (p, x) }
            return nil
        }.sorted { $0.0 < $1.0 }
        let names = mx.isEmpty ? [domain] : mx.map(\.1)
        var out: [(String, [String])] = []
        var lastError: Failure?
        for n in names.prefix(10) {
            do throws(Failure) {
                // IPv4 addresses first, then IPv6 (an AAAA question that fails does not
                // hide the A records).
                var addrs = try ask(n, .a).compactMap { a -> String? in
                    if case .a(let ip) = a { return ip }
                    return nil
                }
                do throws(Failure) {
                    addrs += try ask(n, .aaaa).compactMap { a -> String? in
                        if case .aaaa(let ip) = a { return ip }
                        return nil
                    }
                } catch { if addrs.isEmpty { throw error } }
                if !addrs.isEmpty { out.append((n, addrs)) }
            } catch { lastError = error }
        }
        if out.isEmpty {
            throw lastError ?? Failure(description: "Host or domain name not found. Name service error for name=\(domain) type=A: no address", notFound: mx.isEmpty)
        }
        return out
    }
}

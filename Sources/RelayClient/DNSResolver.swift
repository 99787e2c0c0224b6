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

    /// From `dns_resolver`: `address`, `address:port` (IPv4), `[address]:port` or a bare IPv6
    /// address (port 53 when none is given); empty reads the first nameserver of
    /// /etc/resolv.conf, IPv4 or IPv6.
    public static func configured(_ spec: String) throws(ConfigError) -> DNSResolver {
        var s = spec
        if s.isEmpty {
            let conf = String(decoding: (try? Posix.readFile("/etc/resolv.conf", limit: 1 << 16)) ?? [], as: UTF8.self)
            s = conf.split(separator: "\n").compactMap { line -> String? in
                let w = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                return w.count >= 2 && w[0] == "nameserver" ? String(w[1]) : nil
            }.first ?? "127.0.0.1"
        }
        guard let (host, port) = Self.hostAndPort(s), Self.socketAddress(host, port: port) != nil else {
            throw ConfigError("dns_resolver = \(spec): expected an IPv4 address with an optional :port, or an IPv6 address (as [address]:port with a port)")
        }
        return DNSResolver(host: host, port: port)
    }

    /// `a.b.c.d[:port]`, `[v6]:port`, `[v6]` or a bare `v6` (with an optional `%scope`).
    static func hostAndPort(_ s: String) -> (String, UInt16)? {
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            let host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            if rest.isEmpty { return (host, 53) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { return nil }
            return (host, port)
        }
        let colons = s.filter { $0 == ":" }.count
        if colons > 1 { return (s, 53) }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let port = UInt16(parts[1]), port > 0 else { return nil }
            return (String(parts[0]), port)
        }
        return (s, 53)
    }

    /// The socket address of a numeric IPv4 or IPv6 host, or nil.
    static func socketAddress(_ host: String, port: UInt16) -> (family: Int32, storage: sockaddr_storage, length: socklen_t)? {
        var storage = sockaddr_storage()
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr = v4
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
            return (AF_INET, storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
        var name = host, scope: UInt32 = 0
        if let pct = host.firstIndex(of: "%") {
            name = String(host[..<pct])
            scope = if_nametoindex(String(host[host.index(after: pct)...]))
            if scope == 0 { return nil }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, name, &v6) == 1 else { return nil }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_port = port.bigEndian
        a.sin6_addr = v6
        a.sin6_scope_id = scope
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
        return (AF_INET6, storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
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
        guard let resolved = Self.socketAddress(host, port: port) else {
            throw Failure(description: "DNS server \(host): not a numeric IPv4 or IPv6 address", notFound: false)
        }
        let (family, addrLength) = (resolved.family, resolved.length)
        var addr = resolved.storage
        let fd = socket(family, Int32((tcp ? SOCK_STREAM : SOCK_DGRAM).rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))", notFound: false) }
        defer { close(fd) }
        let noAnswer = Failure(description: "Host or domain name not found. Name service error for name=\(name): no answer from \(host):\(port)\(tcp ? " over TCP" : "")", notFound: false)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if tcp {
            var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let ok = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, addrLength) == 0 }
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
                q.withUnsafeBytes { sendto(fd, $0.baseAddress, q.count, 0, sa, addrLength) }
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

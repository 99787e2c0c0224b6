#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Pipeline

/// Debian's postsrsd (1.x) started for one test: its own secret file, a forward and a reverse
/// port on 127.0.0.1, in the foreground; stopped by PID. It answers Postfix's tcp_table
/// protocol (tcp_table(5)): `get ADDRESS\n` → `200 ADDRESS\n`, or `500 reason\n`.
final class PostsrsdPeer {
    let directory = TempDir()
    let forwardPort: Int
    let reversePort: Int
    let process = Process()

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/postsrsd") }

    init(domain: String, secrets: String, separator: Character = "=") throws {
        let d = directory.path
        try secrets.write(toFile: "\(d)/secret", atomically: true, encoding: .utf8)
        forwardPort = try OpenDKIMPeer.freePort()
        var reverse = try OpenDKIMPeer.freePort()
        while reverse == forwardPort { reverse = try OpenDKIMPeer.freePort() }
        reversePort = reverse
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/postsrsd")
        process.arguments = ["-s\(d)/secret", "-d\(domain)", "-a\(separator)", "-l127.0.0.1", "-4",
                             "-f\(forwardPort)", "-r\(reversePort)", "-t10"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<200 {
            if OpenDKIMPeer.accepts(forwardPort) && OpenDKIMPeer.accepts(reversePort) { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        stop()
        throw PeerError("postsrsd did not listen on 127.0.0.1:\(forwardPort)/\(reversePort)")
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: postsrsd keeps the signal mask it inherits, and the test runner's blocks
            // SIGTERM; it holds no state worth a clean exit.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    /// postsrsd's answer for a forward (sender) lookup: the address, or nil with a 500.
    func forward(_ address: String) throws -> String? { try query(forwardPort, address) }
    func reverse(_ address: String) throws -> String? { try query(reversePort, address) }

    /// One tcp_table request on a fresh connection (the key URL-encoded, as Postfix sends it).
    func query(_ port: Int, _ key: String) throws -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket: \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { throw PeerError("connect to postsrsd: \(errno)") }
        let request = Array("get \(Self.urlEncode(key))\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { throw PeerError("send") }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(10) && reply.count < 8192 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            reply += buffer[0..<n]
        }
        let line = String(decoding: reply.prefix { $0 != 10 }, as: UTF8.self)
        guard line.hasPrefix("200 ") else {
            guard line.hasPrefix("500 ") else { throw PeerError("postsrsd said \(line.isEmpty ? "nothing" : line)") }
            return nil
        }
        return Self.urlDecode(String(line.dropFirst(4)))
    }

    /// tcp_table(5): characters other than printable ASCII, and %, as %XX.
    static func urlEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if b > 0x20 && b < 0x7F && b != 0x25 { out.append(Character(Unicode.Scalar(b))) } else { out += String(format: "%%%02X", b) }
        }
        return out
    }

    static func urlDecode(_ s: String) -> String {
        TransferDecoder.decodeHexEscapes(s, marker: "%")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A real opendkim started for one test: its own key, config and loopback port in a temporary
/// directory; stopped by PID when the test is done.
final class OpenDKIMPeer {
    enum Mode { case sign, verify }

    let directory: TempDir
    let port: Int
    let process: Process
    let log: URL

    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/opendkim")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/opendkim-genkey")
    }

    /// Makes a 1024-bit key for `selector._domainkey.domain` in `dir` and returns the TXT
    /// record's value (what DNS would hold).
    static func makeKey(in dir: String, domain: String, selector: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/opendkim-genkey")
        p.arguments = ["-b", "1024", "-d", domain, "-s", selector, "-D", dir]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw PeerError("opendkim-genkey exited \(p.terminationStatus)") }
        let txt = try String(contentsOfFile: "\(dir)/\(selector).txt", encoding: .utf8)
        // The BIND record splits the value into quoted strings; DNS joins them.
        var value = "", inQuote = false
        for c in txt {
            if c == "\"" { inQuote.toggle() } else if inQuote { value.append(c) }
        }
        return value
    }

    init(_ mode: Mode, keyDirectory: String, domain: String = "example.com", selector: String = "test",
         publicKey: String? = nil) throws {
        directory = TempDir()
        port = try Self.freePort()
        let d = directory.path
        log = URL(fileURLWithPath: "\(d)/opendkim.log")
        var conf = """
            Socket inet:\(port)@127.0.0.1
            Background no
            PidFile \(d)/opendkim.pid
            Syslog no
            UserID \(geteuid() == 0 ? "root" : String(cString: getpwuid(geteuid())!.pointee.pw_name))
            RequireSafeKeys no
            Canonicalization relaxed/relaxed
            AuthservID mdad.test

            """
        switch mode {
        case .sign:
            conf += "Mode s\nDomain \(domain)\nSelector \(selector)\nKeyFile \(keyDirectory)/\(selector).private\nInternalHosts 127.0.0.1\n"
        case .verify:
            try "\(selector)._domainkey.\(domain) \(publicKey ?? "")\n".write(toFile: "\(d)/keys", atomically: true, encoding: .utf8)
            conf += "Mode v\nTestPublicKeys \(d)/keys\n"
        }
        try conf.write(toFile: "\(d)/opendkim.conf", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/opendkim")
        process.arguments = ["-f", "-x", "\(d)/opendkim.conf"]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // Ready when the port accepts connections (bounded: 10 s).
        for _ in 0..<200 {
            if Self.accepts(port) { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        stop()
        throw PeerError("opendkim did not listen on 127.0.0.1:\(port): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw PeerError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

import Foundation
import Testing

/// mdad's log lines as mail administrators' tools read them: pflogsumm (Debian's package)
/// summarises a known workload, and syslog delivery reaches a syslog socket.
@Suite("logs: pflogsumm and syslog", .serialized)
struct LogEndToEndTests {
    @Test func pflogsummCountsTheWorkload() throws {
        let box = try Sandbox(mainCF: "pipeline = access\naccess_reject_senders = blocked@example.org\nspool_memory_limit = 10000000\n")
        let log = box.root.appendingPathComponent("maillog").path
        let message = Data("Subject: counted\n\n".utf8) + Data(repeating: 65, count: 1000) + Data("\n".utf8)
        var delivered = 0, bounced = 0, deferred = 0
        for i in 0..<4 {
            let r = try box.deliver(["-o", "maillog_file=\(log)", "-f", "s\(i)@example.org", "-a", "rcpt\(i)@example.test"], input: message)
            #expect(r.status == 0, "\(r.stderr)")
            delivered += 1
        }
        for _ in 0..<2 {
            let r = try box.deliver(["-o", "maillog_file=\(log)", "-f", "blocked@example.org", "-a", "x@example.test"], input: message)
            #expect(r.status == 77)
            bounced += 1
        }
        // A write that hits the file-size limit: deferred (4.2.2), Postfix would retry.
        let big = Data("Subject: big\n\n".utf8) + Data(repeating: 66, count: 50_000)
        let r = try box.deliver(["-o", "maillog_file=\(log)", "-f", "s@example.org", "-a", "y@example.test"], input: big,
                                prefix: ["/usr/bin/prlimit", "--fsize=20000", "--"])
        #expect(r.status == 75, "\(r.stderr)")
        deferred += 1

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/pflogsumm")
        p.arguments = ["--syslog-name=mdad", log]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        func total(_ label: String) -> Int? {
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.count >= 2, words[1] == label { return Int(words[0]) }
            }
            return nil
        }
        #expect(total("delivered") == delivered, "\(text.prefix(600))")
        #expect(total("bounced") == bounced)
        #expect(total("deferred") == deferred)
        let size = message.count
        let bytesLine = text.split(separator: "\n").first { $0.contains("bytes delivered") }
        #expect(bytesLine?.split(separator: " ").first.flatMap { Int($0) } == delivered * size, "\(String(describing: bytesLine))")
    }

    /// syslog(3) writes to /dev/log; the test gives mdad a private /dev (a mount namespace of
    /// its own, so the machine's /dev is untouched) whose log socket the test listens on.
    @Test func syslogDeliveryReachesTheLogSocket() throws {
        guard getuid() == 0 else { Issue.record("a private mount namespace needs root"); return }
        let box = try Sandbox(mainCF: "maillog_destination = syslog\nsyslog_facility = mail\n")
        let socketPath = box.root.appendingPathComponent("devlog").path
        let listener = try DatagramListener(path: socketPath)
        let script = "mount -t tmpfs tmpfs /dev && ln -s \(socketPath) /dev/log && touch /dev/null && exec \"$@\""
        let r = try MDAD.run(["deliver", "-c", box.config.path, "-f", "s@example.org", "-a", "r@example.test"],
                             input: Data("Subject: x\n\nb\n".utf8), environment: box.environment,
                             prefix: ["/usr/bin/unshare", "--mount", "--", "/bin/sh", "-c", script, "sh"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("status=sent"), "lines go to syslog, not standard error")
        let messages = listener.receive(count: 2, timeout: 5)
        #expect(messages.count == 2, "\(messages)")
        // <22> = facility mail (2) * 8 + info (6)
        #expect(messages.allSatisfy { $0.hasPrefix("<22>") && $0.contains("mdad/deliver[") }, "\(messages)")
        #expect(messages.last?.contains("to=<r@example.test>, relay=local") == true)
        #expect(messages.last?.contains("status=sent (delivered to maildir)") == true)
    }
}

/// A UNIX datagram socket that collects what syslog(3) sends.
final class DatagramListener {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SkipReason("socket failed") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes + [0])
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { throw SkipReason("bind \(path) failed") }
        chmod(path, 0o666)
    }

    deinit {
        close(fd)
        unlink(path)
    }

    func receive(count: Int, timeout: Double) -> [String] {
        var out: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 8192)
        while out.count < count && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { out.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
        }
        return out
    }
}

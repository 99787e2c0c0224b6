import Foundation
import Testing

/// procmail's comsat/biff notifications and `-z`, judged against procmail itself: the same rc
/// and message through `procmail -m` and `mdad procmail -m`, with COMSAT pointed at a UDP
/// socket of the test's own on 127.0.0.1; the datagrams (unique file names masked) and exit
/// codes must agree.
@Suite(.serialized)
struct ProcmailComsatTests {
    /// (name, rc with @PORT@ for the test's port, message)
    static let cases: [(String, String, String)] = {
        let messages = ProcmailCorpus.messages.filter { ["plain", "fromline", "folded"].contains($0.0) }
        let rcs: [(String, String)] = [
            ("mbox", "COMSAT=@PORT@@127.0.0.1\n:0\nbox\n"),
            ("mbox-second-copy", "COMSAT=@PORT@@\n:0 c\nbox\n:0\nbox\n"),
            ("maildir", "COMSAT=@PORT@@localhost\n:0\nmd/\n"),
            ("mh-and-directory", "COMSAT=@PORT@@\nM=`mkdir -p @SB@/mail/plain`\n:0\nmh/. plain\n"),
            ("pipe", "COMSAT=@PORT@@\n:0\n| cat > @SB@/mail/piped\n"),
            ("bounce", "COMSAT=@PORT@@\n:0\n* ^Subject:.*nothing-matches-this\nbox\n"),
            ("off", "COMSAT=off\n:0\nbox\n"),
            ("no", "COMSAT=no\n:0\nbox\n"),
            ("unset-under-m", ":0\nbox\n"),
            ("relative-default", "COMSAT=@PORT@@\nDEFAULT=inbox\n"),
            ("clone", "COMSAT=@PORT@@\n:0 c\ncopy\n:0\nbox\n"),
            ("forward", "COMSAT=@PORT@@\nSENDMAIL=@SB@/rec.sh\n:0\n! bob@example.net\n"),
        ]
        var out: [(String, String, String)] = []
        for (rcName, rc) in rcs {
            for (msgName, message) in messages {
                out.append(("\(rcName) × \(msgName)", "MAILDIR=@SB@/mail\n" + rc, message))
            }
        }
        return out
    }()

    /// Not the differential suite's sandbox: the two suites may run at the same time.
    static let sandbox = "/tmp/mdad-procmail-comsat-\(getpid())"

    @Test func notificationsAgreeWithProcmail() throws {
        guard FileManager.default.isExecutableFile(atPath: ProcmailDifferentialTests.procmail) else {
            Issue.record("procmail is not installed (apt-get install procmail; scripts/deps lists it)")
            return
        }
        let listener = try UDPListener()
        defer { listener.close() }
        var same = 0
        var differences: [String] = []
        var notified = 0
        for (name, rc, message) in Self.cases {
            let text = rc.replacingOccurrences(of: "@PORT@", with: String(listener.port)).replacingOccurrences(of: "@SB@", with: Self.sandbox)
            listener.drain()
            let theirs = try ProcmailDifferentialTests.run(program: [ProcmailDifferentialTests.procmail], rc: text, args: [], message: message, sandbox: Self.sandbox)
            let theirDatagrams = listener.drain().map(Self.masked).sorted()
            let ours = try ProcmailDifferentialTests.run(program: [MDAD.binary, "procmail"], rc: text, args: [], message: message, sandbox: Self.sandbox)
            let ourDatagrams = listener.drain().map(Self.masked).sorted()
            if !theirDatagrams.isEmpty { notified += 1 }
            if theirDatagrams == ourDatagrams && theirs.exitCode == ours.exitCode {
                same += 1
            } else {
                differences.append("DIFFERENCE \(name): procmail \(theirs.exitCode) \(theirDatagrams), mdad \(ours.exitCode) \(ourDatagrams)")
            }
        }
        print("procmail comsat differential: \(same)/\(Self.cases.count) agree; procmail notified in \(notified)")
        for d in differences { print(d) }
        #expect(notified >= Self.cases.count / 2, "the cases exercise notifications")
        #expect(same == Self.cases.count)
    }

    @Test func dashZExitsAsDebiansProcmailDoesAndNamesMdadServe() throws {
        guard FileManager.default.isExecutableFile(atPath: ProcmailDifferentialTests.procmail) else {
            Issue.record("procmail is not installed")
            return
        }
        let message = Data("Subject: x\n\nbody\n".utf8)
        let theirs = try MDAD.run(["-z"], input: message, program: ProcmailDifferentialTests.procmail)
        let ours = try MDAD.run(["procmail", "-z"], input: message)
        #expect(ours.status == theirs.status, "procmail \(theirs.status) \(theirs.stderr), mdad \(ours.status)")
        #expect(ours.stderr.contains("mdad serve"), "\(ours.stderr)")
    }

    /// Unique names (Maildir files, `msg.` files) vary from run to run.
    static func masked(_ s: String) -> String {
        s.replacingOccurrences(of: #"/new/[^ :]+"#, with: "/new/NAME", options: .regularExpression)
            .replacingOccurrences(of: #"/msg\.[A-Za-z0-9_-]+"#, with: "/msg.NAME", options: .regularExpression)
    }
}

/// A UDP socket on 127.0.0.1 with a port of the kernel's choosing.
final class UDPListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw SkipReason("socket: \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard bound else { Glibc.close(fd); throw SkipReason("bind: \(errno)") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The datagrams that arrived (waiting a little for late ones).
    @discardableResult
    func drain() -> [String] {
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, out.isEmpty ? 150 : 50) > 0 else { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return out
    }

    func close() { Glibc.close(fd) }
}

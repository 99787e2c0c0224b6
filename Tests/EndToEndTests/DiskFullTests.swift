import Foundation
import Testing

/// A full disk, for real: mailboxes on a small tmpfs the test mounts (root only). Deliveries
/// past the limit defer with 4.3.1 (exit 75), leave nothing partial behind — no file in new/
/// or tmp/, an mbox exactly as it was — and delivery resumes once space is freed.
@Suite("disk full", .serialized)
struct DiskFullTests {
    final class SmallDisk {
        let path: String
        init(_ path: String, size: String) throws {
            guard getuid() == 0 else { throw SkipReason("mounting a tmpfs needs root") }
            self.path = path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/mount")
            p.arguments = ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path]
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw SkipReason("mount -t tmpfs failed (\(p.terminationStatus))") }
        }
        deinit {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/umount")
            p.arguments = ["-l", path]
            try? p.run()
            p.waitUntilExit()
        }
    }

    static let body = String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", count: 300)  // 19 KiB

    @Test func maildirDefersCleanlyAndResumes() throws {
        let box = try Sandbox()
        let disk = try SmallDisk(box.home.path, size: "128k")
        var statuses: [Int32] = []
        var lastError = ""
        for i in 0..<12 {
            let r = try box.deliver(["-f", "s@example.org"], input: Data("Subject: \(i)\n\n\(Self.body)".utf8))
            statuses.append(r.status)
            if r.status != 0 { lastError = r.firstErrorLine }
        }
        let stored = box.files("new")
        #expect(statuses.contains(0) && statuses.contains(75), "\(statuses)")
        #expect(statuses.filter { $0 == 0 }.count == stored.count, "every exit 0 is one file in new/, nothing more")
        #expect(statuses.allSatisfy { $0 == 0 || $0 == 75 })
        #expect(lastError.hasPrefix("4.3.1"), "\(lastError)")
        #expect(box.files("tmp").isEmpty, "no partial file left in tmp/")
        for file in stored {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.hasSuffix(Self.body), "a stored message is whole: \(file.lastPathComponent)")
        }
        // Free space: the next delivery goes through.
        for file in stored.prefix(3) { try FileManager.default.removeItem(at: file) }
        let again = try box.deliver(["-f", "s@example.org"], input: Data("Subject: after\n\n\(Self.body)".utf8))
        #expect(again.status == 0, "\(again.stderr)")
        _ = disk
    }

    @Test func mboxIsLeftExactlyAsItWas() throws {
        let box = try Sandbox(mainCF: "home_mailbox = Mailbox\n")
        let disk = try SmallDisk(box.home.path, size: "128k")
        let mbox = box.home.appendingPathComponent("Mailbox").path
        var failures = 0
        for i in 0..<12 {
            let before = (try? Data(contentsOf: URL(fileURLWithPath: mbox))) ?? Data()
            let r = try box.deliver(["-f", "s@example.org"], input: Data("Subject: \(i)\n\n\(Self.body)".utf8))
            if r.status != 0 {
                failures += 1
                #expect(r.status == 75 && r.firstErrorLine.hasPrefix("4.3.1"), "\(r.stderr)")
                let after = (try? Data(contentsOf: URL(fileURLWithPath: mbox))) ?? Data()
                #expect(after == before, "a failed append leaves the mbox byte for byte as it was")
            }
        }
        #expect(failures > 0, "the disk filled up")
        _ = disk
    }
}

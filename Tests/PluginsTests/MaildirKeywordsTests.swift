#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("Maildir keywords (dovecot-keywords)")
struct MaildirKeywordsTests {
    @Test(arguments: [
        ("", [Int: String]()),
        ("0 $Label1\n", [0: "$Label1"]),
        ("0 Work\n1 $Label1\n25 Last\n", [0: "Work", 1: "$Label1", 25: "Last"]),
        ("3 Hole\n", [3: "Hole"]),
        ("0 Work\r\n", [0: "Work"]),
        ("no-index-line\n0 ok\n", [0: "ok"]),               // Dovecot skips lines without a space
        ("26 TooFar\n-1 Negative\nx Bad\n1 \n2 Two\n", [2: "Two"]),
        ("0 First\n0 Second\n", [0: "Second"]),             // the last line for an index wins
    ])
    func parse(text: String, table: [Int: String]) {
        #expect(MaildirKeywords.parse(Array(text.utf8)) == table)
    }

    @Test func renderIsInIndexOrder() {
        let text = MaildirKeywords.render([25: "z", 0: "a", 3: "d"])
        #expect(String(decoding: text, as: UTF8.self) == "0 a\n3 d\n25 z\n")
        #expect(MaildirKeywords.parse(text) == [25: "z", 0: "a", 3: "d"])
    }

    @Test(arguments: [
        ("$Label1", true), ("Work", true), ("$Junk", true), ("NonJunk", true), ("a-b_c.d", true),
        ("", false), ("two words", false), ("(paren", false), ("brace{", false), ("100%", false),
        ("star*", false), ("quote\"", false), ("back\\slash", false), ("\\Seen", false), ("bracket]", false),
        ("ctl\u{1}", false), ("tab\t", false), ("del\u{7F}", false), ("Wörk", false),
        (String(repeating: "k", count: 200), true), (String(repeating: "k", count: 201), false),
    ])
    func validKeywords(keyword: String, valid: Bool) {
        #expect(MaildirKeywords.isValid(keyword) == valid)
    }

    @Test(arguments: [
        // (table before, keywords, letters, dropped, table after)
        ([Int: String](), ["Work"], "a", [String](), [0: "Work"]),
        ([0: "Work"], ["Work"], "a", [], [0: "Work"]),
        ([0: "Work"], ["work", "WORK"], "aa", [], [0: "Work"]),                  // case-insensitive, first spelling kept
        ([0: "Work", 2: "Three"], ["New"], "b", [], [0: "Work", 1: "New", 2: "Three"]),   // lowest free index
        ([0: "Work"], ["B", "C"], "bc", [], [0: "Work", 1: "B", 2: "C"]),
        ([0: "Work"], ["bad word", "C"], "b", ["bad word"], [0: "Work", 1: "C"]),
    ])
    func assign(before: [Int: String], keywords: [String], letters: String, dropped: [String], after: [Int: String]) {
        var table = before
        let a = MaildirKeywords.assign(keywords, to: &table)
        #expect(String(a.letters) == letters)
        #expect(a.dropped == dropped)
        #expect(table == after)
        #expect(a.changed == (before != after))
    }

    @Test func aFullTableDropsNewKeywordsButKeepsKnownOnes() {
        var table: [Int: String] = [:]
        for i in 0..<26 { table[i] = "k\(i)" }
        let a = MaildirKeywords.assign(["k25", "extra", "k0"], to: &table)
        #expect(String(a.letters) == "za")
        #expect(a.dropped == ["extra"])
        #expect(!a.changed)
    }

    @Test func newKeywordsAreWrittenAndTheLockIsGone() throws {
        let dir = TempDir()
        let a = try MaildirKeywords.letters(for: ["$Label1", "Work"], in: dir.path)
        #expect(String(a.letters) == "ab")
        #expect(try dir.read(dir.path + "/dovecot-keywords") == Array("0 $Label1\n1 Work\n".utf8))
        let b = try MaildirKeywords.letters(for: ["Other", "work"], in: dir.path)
        #expect(String(b.letters) == "cb")
        #expect(try dir.read(dir.path + "/dovecot-keywords") == Array("0 $Label1\n1 Work\n2 Other\n".utf8))
        #expect(dir.list(dir.path) == ["dovecot-keywords"], "no lock or temporary file left")
    }

    /// Dovecot re-reads the file only when its mtime (in seconds) changed.
    @Test func everyChangeMovesTheModificationTimeForward() throws {
        let dir = TempDir()
        var last = 0
        for i in 0..<4 {
            _ = try MaildirKeywords.letters(for: ["k\(i)"], in: dir.path)
            var st = stat()
            #expect(stat(dir.path + "/dovecot-keywords", &st) == 0)
            #expect(st.st_mtim.tv_sec > last)
            last = st.st_mtim.tv_sec
        }
    }

    /// A live holder's lock is never taken over, however old (Dovecot's rule too).
    @Test(arguments: [0, 300])
    func aLockHeldByALiveProcessMakesTheDeliveryWaitThenFail(age: Int) throws {
        let dir = TempDir()
        let lock = dir.path + "/dovecot-uidlist.lock"
        try write(lock, "1:\(Posix.hostName())")     // PID 1 is alive
        if age > 0 { setModificationTime(lock, secondsAgo: age) }
        #expect {
            _ = try MaildirKeywords.letters(for: ["Work"], in: dir.path, lockTimeout: 0.3, staleAfter: 1)
        } throws: { ($0 as? SystemError)?.errno == EAGAIN }
        #expect(Posix.exists(lock), "a live holder's lock stays")
        #expect(!Posix.exists(dir.path + "/dovecot-keywords"))
    }

    @Test(arguments: ["dead-pid", "untouched"])
    func aStaleLockIsTakenOver(kind: String) throws {
        let dir = TempDir()
        let lock = dir.path + "/dovecot-uidlist.lock"
        if kind == "dead-pid" {
            // A PID that does not exist, three seconds old (fresher locks are not checked).
            try write(lock, "\(Int32.max - 7):\(Posix.hostName())")
            setModificationTime(lock, secondsAgo: 3)
        } else {
            // Another host's lock (its PID means nothing here), untouched for longer than the
            // stale time (Dovecot's two minutes, one second here).
            try write(lock, "4242:some-other-host")
            setModificationTime(lock, secondsAgo: 200)
        }
        let a = try MaildirKeywords.letters(for: ["Work"], in: dir.path, lockTimeout: 10, staleAfter: 1)
        #expect(String(a.letters) == "a")
        #expect(!Posix.exists(lock))
    }

    /// Threads of one process deliver with overlapping sets of new keywords into one mailbox:
    /// every keyword ends up with exactly one letter, and every delivery got that letter.
    @Test func concurrentThreadsNeitherLoseNorDuplicateKeywords() async throws {
        let dir = TempDir()
        let md = Maildir(path: dir.path + "/M", hostName: "h")
        let names = (0..<20).map { "kw\($0)" }
        let message = try Message.literal("Subject: x\n\nb\n")
        let results = try await withThrowingTaskGroup(of: [(String, String)].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var out: [(String, String)] = []
                    for round in 0..<5 {
                        let picked = (0..<3).map { names[(worker * 7 + round * 3 + $0 * 5) % names.count] }
                        let d = try md.deliver(message, flags: picked)
                        out.append((picked.joined(separator: " "), String(d.path.split(separator: ",").last!)))
                    }
                    return out
                }
            }
            var all: [(String, String)] = []
            for try await r in group { all += r }
            return all
        }
        try Self.checkConsistent(dir: dir.path + "/M", deliveries: results)
    }

    /// The same from several processes: each child runs ``childProcessAssignsKeywords`` in a
    /// fresh copy of this test binary.
    @Test func concurrentProcessesNeitherLoseNorDuplicateKeywords() throws {
        guard ProcessInfo.processInfo.environment["MDAD_KEYWORDS_CHILD"] == nil else { return }
        let dir = TempDir()
        try Posix.makeDirectory(dir.path + "/M", mode: 0o700)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var children: [Process] = []
        var outputs: [Pipe] = []
        for worker in 0..<4 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["--testing-library", "swift-testing", "--filter", "childProcessAssignsKeywords"]
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["MDAD_KEYWORDS_CHILD": dir.path + "/M", "MDAD_KEYWORDS_WORKER": "\(worker)"]) { _, b in b }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            children.append(p)
            outputs.append(out)
        }
        var deliveries: [(String, String)] = []
        for (p, out) in zip(children, outputs) {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            for line in text.split(separator: "\n") where line.hasPrefix("DELIVERED ") {
                let f = line.dropFirst(10).split(separator: "|")
                deliveries.append((String(f[0]), String(f[1])))
            }
        }
        #expect(deliveries.count == 4 * 6, "every child reported its deliveries")
        try Self.checkConsistent(dir: dir.path + "/M", deliveries: deliveries)
    }

    /// The child's half of ``concurrentProcessesNeitherLoseNorDuplicateKeywords``; does
    /// nothing in a normal run.
    @Test func childProcessAssignsKeywords() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env["MDAD_KEYWORDS_CHILD"], let worker = Int(env["MDAD_KEYWORDS_WORKER"] ?? "") else { return }
        let md = Maildir(path: path, hostName: "h")
        let message = try Message.literal("Subject: x\n\nb\n")
        let names = (0..<20).map { "kw\($0)" }
        var lines = ""
        for round in 0..<6 {
            let picked = (0..<3).map { names[(worker * 5 + round * 3 + $0 * 7) % names.count] }
            let d = try md.deliver(message, flags: picked)
            lines += "DELIVERED \(picked.joined(separator: " "))|\(d.path.split(separator: ",").last!)\n"
        }
        FileHandle.standardOutput.write(Data(lines.utf8))
    }

    /// The file maps distinct keywords to distinct indexes, and each delivery's letters are
    /// exactly its keywords' letters (`info` is the last comma field: `abc` of `:2,abc`).
    static func checkConsistent(dir: String, deliveries: [(keywords: String, info: String)]) throws {
        let table = MaildirKeywords.parse(try Posix.readFile(dir + "/dovecot-keywords"))
        let byName = Dictionary(table.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in
            Issue.record("keyword listed twice")
            return a
        })
        let used = Set(deliveries.flatMap { $0.keywords.split(separator: " ").map(String.init) })
        #expect(Set(byName.keys) == used, "every keyword used was recorded, and nothing else")
        #expect(table.keys.allSatisfy { $0 < used.count }, "indexes were assigned without gaps")
        for d in deliveries {
            let expected = String(d.keywords.split(separator: " ").map { MaildirKeywords.letter(byName[String($0)] ?? 99) }.sorted())
            #expect(d.info == expected, "\(d.keywords)")
        }
        let cur = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/cur")) ?? []
        #expect(cur.count == deliveries.count)
        #expect(!Posix.exists(dir + "/dovecot-uidlist.lock") && !Posix.exists(dir + "/dovecot-keywords.lock"))
    }

    func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        try Posix.writeAll(fd, Array(text.utf8))
    }

    func setModificationTime(_ path: String, secondsAgo: Int) {
        let t = time(nil) - secondsAgo
        var times = [timespec(tv_sec: t, tv_nsec: 0), timespec(tv_sec: t, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
    }
}

import Foundation
import Testing

/// `mdad postalias` and `mdad postmap` judged by Postfix's own (postfix-cdb): the same source
/// files must give the same warnings, the same compiled entries (read back with tinycdb's
/// `cdb -d`) and the same `-q` answers, and each must read the other's tables.
@Suite("postalias and postmap against Postfix's", .serialized)
struct PostaliasDifferentialTests {
    static let aliasFiles: [String: String] = [
        "basic": """
            # comment
            postmaster: root
            root: admin
            admin: alice,
               bob@example.com ,
            \tcarol
            "a b": "|/bin/cat"
            Alias2: /tmp/file
            root: other
            list: :include:/etc/mdad/list

            """,
        "malformed": """
            nocolon value
            : novalue
            x:
            quoted"inside: y
            "unterminated: z
            empty:
              indented: x
            sp ace: v

            """,
        "tokens": """
            y : value
            z: a (c) , b
            w: "quoted, comma" , c
            u: a<b@c>d
            v: a;b
            t: [1.2.3.4] x
            s: @x, \\\\y
            r:"q"@x
            q: a. b .c
            owner-list: admin
            list-request: admin
            MAILER-DAEMON: postmaster

            """,
    ]

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ tool: String, _ args: [String], stdin: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { try input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// `cdb -d` output without the timestamp entry, whose value is the build time.
    static func dump(_ path: String) throws -> [String] {
        try run("/usr/bin/cdb", ["-d", path]).stdout.split(separator: "\n").map(String.init).filter { !$0.contains(":YP_LAST_MODIFIED->") }
    }

    func directory() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-postalias-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try "".write(to: dir.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func aliasesCompileQueryAndWarnAsPostalias() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let etc = dir.appendingPathComponent("etc").path
        var agree = 0, total = 0
        var differences: [String] = []
        func compare<T: Equatable>(_ what: String, _ mine: T, _ theirs: T) {
            total += 1
            if mine == theirs { agree += 1 } else { differences.append("\(what): mdad \(mine) / postfix \(theirs)") }
        }
        for (name, text) in Self.aliasFiles.sorted(by: { $0.key < $1.key }) {
            let mine = dir.appendingPathComponent("mine-\(name)").path, theirs = dir.appendingPathComponent(name).path
            try text.write(toFile: mine, atomically: true, encoding: .utf8)
            try text.write(toFile: theirs, atomically: true, encoding: .utf8)
            let m = try MDAD.run(["postalias", "-c", etc, "cdb:\(mine)"], input: Data())
            let p = try Self.run("/usr/sbin/postalias", ["-c", etc, "cdb:\(theirs)"])
            compare("\(name) exit", m.status, p.status)
            compare("\(name) warnings", m.stderr.replacingOccurrences(of: "mine-", with: ""), p.stderr)
            compare("\(name) entries", try Self.dump(mine + ".cdb"), try Self.dump(theirs + ".cdb"))
            let keys = text.split(separator: "\n").compactMap { $0.split(separator: ":").first.map { String($0).trimmingCharacters(in: .whitespaces) } }
                + ["nosuchkey", "ROOT", "A B", "@"]
            // Some keys end in CR: Postfix looks them up with it (and so finds nothing).
            let stdin = keys.joined(separator: "\n") + "\n" + keys.prefix(3).map { $0 + "\r\n" }.joined()
            let mq = try MDAD.run(["postalias", "-c", etc, "-q", "-", "cdb:\(mine)"], input: Data(stdin.utf8))
            let pq = try Self.run("/usr/sbin/postalias", ["-c", etc, "-q", "-", "cdb:\(theirs)"], stdin: stdin)
            compare("\(name) -q - answers", mq.stdout, pq.stdout)
            compare("\(name) -q - status", mq.status, pq.status)
            // Each reads the other's table.
            let cross = try Self.run("/usr/sbin/postalias", ["-c", etc, "-q", "-", "cdb:\(mine)"], stdin: stdin)
            compare("\(name) postfix reading mdad's table", cross.stdout, pq.stdout)
            let cross2 = try MDAD.run(["postalias", "-c", etc, "-q", "-", "cdb:\(theirs)"], input: Data(stdin.utf8))
            compare("\(name) mdad reading postfix's table", cross2.stdout, pq.stdout)
            // -i: cdb tables are rebuilt whole; both refuse, and both tables stay as they were.
            let mi = try MDAD.run(["postalias", "-c", etc, "-i", "cdb:\(mine)"], input: Data("added: x\n".utf8))
            let pi = try Self.run("/usr/sbin/postalias", ["-c", etc, "-i", "cdb:\(theirs)"], stdin: "added: x\n")
            compare("\(name) -i status", mi.status, pi.status)
            compare("\(name) entries after -i", try Self.dump(mine + ".cdb"), try Self.dump(theirs + ".cdb"))
            for k in ["root", "nosuchkey"] {
                let a = try MDAD.run(["postalias", "-c", etc, "-q", k, "cdb:\(mine)"], input: Data())
                let b = try Self.run("/usr/sbin/postalias", ["-c", etc, "-q", k, "cdb:\(theirs)"])
                compare("\(name) -q \(k)", "\(a.status) \(a.stdout)", "\(b.status) \(b.stdout)")
            }
        }
        print("postalias differential: \(agree)/\(total) comparisons agree; differences: \(differences.isEmpty ? "none" : differences.joined(separator: "; "))")
        #expect(differences.isEmpty)
    }

    @Test func postmapTablesAsPostfixPostmap() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let etc = dir.appendingPathComponent("etc").path
        let text = "# virtual\nalice@example.com example.com/alice/\nBob@Example.com\texample.com/bob/\n@example.net catchall/\nnokey\nalice@example.com dup/\nlong value with spaces\n  continued\n"
        for name in ["mine", "theirs"] { try text.write(toFile: dir.appendingPathComponent(name).path, atomically: true, encoding: .utf8) }
        let m = try MDAD.run(["postmap", "-c", etc, "cdb:" + dir.appendingPathComponent("mine").path], input: Data())
        let p = try Self.run("/usr/sbin/postmap", ["-c", etc, "cdb:" + dir.appendingPathComponent("theirs").path])
        #expect(m.status == p.status)
        #expect(try Self.dump(dir.appendingPathComponent("mine.cdb").path) == Self.dump(dir.appendingPathComponent("theirs.cdb").path))
        #expect(m.stderr.replacingOccurrences(of: "mine", with: "theirs") == p.stderr, "mdad: \(m.stderr) postfix: \(p.stderr)")
        let q = try MDAD.run(["postmap", "-c", etc, "-q", "BOB@example.com", "cdb:" + dir.appendingPathComponent("theirs").path], input: Data())
        #expect(q.status == 0 && q.stdout == "example.com/bob/\n")
    }

    @Test func newaliasesBuildsEveryAliasDatabase() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("aliases").path, b = dir.appendingPathComponent("more").path
        try "root: admin\n".write(toFile: a, atomically: true, encoding: .utf8)
        try "team: alice, bob\n".write(toFile: b, atomically: true, encoding: .utf8)
        try "alias_database = cdb:\(a), cdb:\(b)\n".write(to: dir.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        let r = try MDAD.run(["newaliases", "-c", dir.appendingPathComponent("etc").path], input: Data())
        #expect(r.status == 0, "\(r.stderr)")
        let q = try Self.run("/usr/sbin/postalias", ["-c", dir.appendingPathComponent("etc").path, "-q", "team", "cdb:\(b)"])
        #expect(q.stdout == "alice, bob\n")
        #expect(FileManager.default.fileExists(atPath: a + ".cdb"))
    }
}

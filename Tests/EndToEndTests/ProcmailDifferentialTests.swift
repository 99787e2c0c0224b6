import Foundation
import Testing

/// `mdad procmail -m` against procmail itself (Debian's package): every rc of
/// ``ProcmailCorpus`` crossed with every message, each run in a throwaway sandbox with SENDMAIL
/// and the rc's pipes pointed at a recording script. The folders (mbox byte for byte apart from
/// the date in a From_ line procmail writes itself; Maildir files by content, names aside; MH
/// files by number), the recorded forwards and pipe invocations, and the exit codes must agree.
@Suite(.serialized)
struct ProcmailDifferentialTests {
    static let procmail = "/usr/bin/procmail"

    /// The agreement this code reaches (every pair since a filter's output is stored
    /// verbatim); a regression fails the test.
    static let floor = 1.0

    struct Outcome: Equatable {
        var exitCode: Int32
        var files: [String: String]
    }

    @Test func agreesWithProcmail() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.procmail) else {
            Issue.record("procmail is not installed (apt-get install procmail; scripts/deps lists it)")
            return
        }
        var total = 0, same = 0
        var differences: [String] = []
        for (rcName, rcText, args) in ProcmailCorpus.rcs {
            for (msgName, message) in ProcmailCorpus.messages {
                total += 1
                let t0 = Date()
                let theirs = try Self.run(program: [Self.procmail], rc: rcText, args: args, message: message)
                let t1 = Date()
                let ours = try Self.run(program: [MDAD.binary, "procmail"], rc: rcText, args: args, message: message)
                let t2 = Date()
                if t2.timeIntervalSince(t0) > 2 {
                    print("slow: \(rcName) × \(msgName): procmail \(t1.timeIntervalSince(t0)) s, mdad \(t2.timeIntervalSince(t1)) s")
                }
                if theirs == ours {
                    same += 1
                } else {
                    differences.append(Self.describe("\(rcName) × \(msgName)", theirs, ours))
                }
            }
        }
        let agreement = Double(same) / Double(total)
        print("procmail differential: \(same)/\(total) rc/message pairs agree (\(String(format: "%.1f", agreement * 100))%)")
        for d in differences { print(d) }
        #expect(total >= 60)
        #expect(agreement >= Self.floor, "agreement \(same)/\(total) below the floor \(Self.floor)")
    }

    /// A path of this test process's own (other checkouts may run this suite at the same time).
    static let sandbox = "/tmp/mdad-procmail-diff-\(getpid())"

    /// Runs one program in a fresh sandbox at a fixed path (so paths in the results are equal).
    static func run(program: [String], rc: String, args: [String], message: String,
                    sandbox sb: String = ProcmailDifferentialTests.sandbox) throws -> Outcome {
        try? FileManager.default.removeItem(atPath: sb)
        try FileManager.default.createDirectory(atPath: sb + "/mail", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: sb) }
        let rec = """
            #!/bin/sh
            { echo "ARGS: $*"; cat; echo "--END--"; } >> \(sb)/record.log
            """
        try rec.write(toFile: sb + "/rec.sh", atomically: true, encoding: .utf8)
        chmod(sb + "/rec.sh", 0o755)
        try ProcmailCorpus.includedRC.replacingOccurrences(of: "@SB@", with: sb)
            .write(toFile: sb + "/included.rc", atomically: true, encoding: .utf8)
        try (rc.replacingOccurrences(of: "@SB@", with: sb) + "\n").write(toFile: sb + "/rc", atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: program[0])
        p.arguments = Array(program.dropFirst()) + ["-m", sb + "/rc"] + args
        p.environment = ["PATH": "/usr/bin:/bin", "LANG": "C", "HOME": sb]
        p.currentDirectoryURL = URL(fileURLWithPath: sb)
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        signal(SIGPIPE, SIG_IGN)   // a program that stops reading early must not kill the test
        try? input.fileHandleForWriting.write(contentsOf: Data(message.utf8))
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        return Outcome(exitCode: p.terminationStatus, files: snapshot(sb))
    }

    /// Every file under the sandbox but the rc files: its content, with the date of a From_
    /// line procmail generated masked, and Maildir file names replaced by their order by content.
    static func snapshot(_ sb: String) -> [String: String] {
        var out: [String: String] = [:]
        var maildirFiles: [String: [String]] = [:]
        guard let e = FileManager.default.enumerator(atPath: sb) else { return out }
        while let rel = e.nextObject() as? String {
            if ["rc", "rec.sh", "included.rc"].contains(rel) { continue }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: sb + "/" + rel, isDirectory: &isDir), !isDir.boolValue else {
                out[rel + "/"] = "(directory)"
                continue
            }
            let text = masked((try? String(contentsOfFile: sb + "/" + rel, encoding: .isoLatin1)) ?? "")
            let parts = rel.split(separator: "/")
            if parts.count >= 2, ["new", "cur", "tmp"].contains(parts[parts.count - 2]) {
                maildirFiles[parts.dropLast().joined(separator: "/"), default: []].append(text)
            } else if parts.count >= 2, let prefix = ProcmailCorpus.messageFilePrefixes.first(where: { parts.last!.hasPrefix($0) }) {
                // procmail's unique names in a plain directory ($MSGPREFIX and four characters).
                maildirFiles[parts.dropLast().joined(separator: "/") + "/" + prefix, default: []].append(text)
            } else if rel.hasSuffix("procmail.log") {
                out[rel] = "(log)"
            } else {
                out[rel] = text
            }
        }
        for (dir, texts) in maildirFiles {
            for (i, t) in texts.sorted().enumerated() { out[dir.hasSuffix("/") ? "\(dir)#\(i)" : "\(dir)/#\(i)"] = t }
        }
        return out
    }

    static func masked(_ s: String) -> String {
        s.replacingOccurrences(of: #"(?m)^(From \S+  )\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$"#,
                               with: "$1DATE", options: .regularExpression)
    }

    static func describe(_ name: String, _ a: Outcome, _ b: Outcome) -> String {
        var lines = ["DIFFERENCE \(name):"]
        if a.exitCode != b.exitCode { lines.append("  exit code: procmail \(a.exitCode), mdad \(b.exitCode)") }
        for key in Set(a.files.keys).union(b.files.keys).sorted() where a.files[key] != b.files[key] {
            func show(_ v: String?) -> String { v.map { "\"" + $0.replacingOccurrences(of: "\n", with: "\\n").prefix(300) + "\"" } ?? "(missing)" }
            lines.append("  \(key): procmail \(show(a.files[key]))")
            lines.append("  \(String(repeating: " ", count: key.count))  mdad     \(show(b.files[key]))")
        }
        return lines.joined(separator: "\n")
    }
}

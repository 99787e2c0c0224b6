import Foundation
import Testing

/// `mdad postconf` judged by Postfix's own postconf on the same main.cf: the same `-e` and `-X`
/// edits must leave byte-identical files, and `-n` must list the same parameters.
@Suite("mdad postconf against Postfix's postconf")
struct PostconfEndToEndTests {
    static let mainCF = """
        # header comment
        myhostname = mx.example.com
        mydestination = $myhostname,
            localhost
        # middle
        myorigin = $mydomain
        recipient_delimiter = +
        message_size_limit = 20480000

        # end

        """

    func pair() throws -> (mdad: URL, postfix: URL) {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-postconf-\(UUID().uuidString.prefix(8))")
        let a = root.appendingPathComponent("mdad"), b = root.appendingPathComponent("postfix")
        for d in [a, b] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try Self.mainCF.write(to: d.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        }
        try "".write(to: b.appendingPathComponent("master.cf"), atomically: true, encoding: .utf8)
        return (a, b)
    }

    func postfix(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/postconf")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func editsLeaveTheSameFileAsPostfix() throws {
        let (a, b) = try pair()
        defer { try? FileManager.default.removeItem(at: a.deletingLastPathComponent()) }
        let edits = [["-e", "mydestination = example.com, localhost", "myorigin=example.com", "relayhost = [smtp.example.com]:587"],
                     ["-X", "recipient_delimiter"],
                     ["-e", "message_size_limit = 0"]]
        var agree = 0
        for e in edits {
            let r = try MDAD.run(["postconf", "-c", a.path] + e, input: Data())
            #expect(r.status == 0, "\(r.stderr)")
            let (ps, _) = try postfix(["-c", b.path] + e)
            #expect(ps == 0)
            let mine = try String(contentsOf: a.appendingPathComponent("main.cf"), encoding: .utf8)
            let theirs = try String(contentsOf: b.appendingPathComponent("main.cf"), encoding: .utf8)
            if mine == theirs { agree += 1 }
            #expect(mine == theirs, "after \(e)")
        }
        print("postconf edits: \(agree)/\(edits.count) identical to Postfix's postconf")
    }

    @Test func nonDefaultListingMatchesPostfix() throws {
        let (a, b) = try pair()
        defer { try? FileManager.default.removeItem(at: a.deletingLastPathComponent()) }
        let r = try MDAD.run(["postconf", "-c", a.path, "-n"], input: Data())
        #expect(r.status == 0)
        let (_, theirs) = try postfix(["-c", b.path, "-n"])
        // Postfix adds config_directory when -c is given; mdad has no such parameter.
        let theirLines = theirs.split(separator: "\n").filter { !$0.hasPrefix("config_directory") }
        #expect(r.stdout.split(separator: "\n") == theirLines)
    }

    @Test func unusedParameterWarningNamesFileAndLine() throws {
        let (a, b) = try pair()
        defer { try? FileManager.default.removeItem(at: a.deletingLastPathComponent()) }
        _ = b
        try (Self.mainCF + "typo_parameter = 1\n").write(to: a.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        let r = try MDAD.run(["postconf", "-c", a.path, "-n"], input: Data())
        #expect(r.stderr.contains("main.cf, line 11: unused parameter: typo_parameter=1"), "\(r.stderr)")
    }
}

/// config/main.cf documents every parameter with its default, commented out.
@Suite("sample configuration")
struct SampleConfigTests {
    @Test func everyParameterIsInTheSampleWithItsDefault() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/main.cf").standardized
        let text = try String(contentsOf: sample, encoding: .utf8)
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-sample-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "".write(to: dir.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        let r = try MDAD.run(["postconf", "-c", dir.path, "-d"], input: Data())
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count > 30)
        var missing: [String] = []
        for line in lines {
            let name = String(line.split(separator: " ").first ?? "")
            // Computed defaults (myhostname, mydomain) depend on the machine: the name suffices.
            let computed = ["myhostname", "mydomain"].contains(name)
            if !text.contains("\n#\(name) =") || (!computed && !text.contains("\n#\(line)\n")) { missing.append(line) }
        }
        #expect(missing.isEmpty, "not in config/main.cf as '#name = default': \(missing)")
        // And the sample itself, as shipped, parses with no unused parameter.
        let check = try MDAD.run(["postconf", "-c", sample.deletingLastPathComponent().path, "-n"], input: Data())
        #expect(check.status == 0 && check.stderr.isEmpty, "\(check.stderr)")
    }
}

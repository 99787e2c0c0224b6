import Foundation
import Testing

/// Runs Debian's `spamassassin` as the judge: local tests only (`-L`), no Bayes, a temporary
/// home and site configuration (Debian's `*.pre` plugin list copied, and a local.cf that
/// adds headers listing every rule that hit, sub-rules included).
struct SpamAssassinHarness {
    let directory: URL
    let siteConfig: URL
    /// Debian's stock rules, or a directory with the rules a test gives.
    let rulesDirectory: String
    static let stockRules = "/usr/share/spamassassin"

    /// `localRules` go into the site configuration's local.cf, which mdad reads too.
    init(rules: String? = nil, localRules: String = "") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-sa-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        siteConfig = directory.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: siteConfig, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("home"), withIntermediateDirectories: true)
        if let rules {
            let dir = directory.appendingPathComponent("rules")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try rules.write(to: dir.appendingPathComponent("50_test.cf"), atomically: true, encoding: .utf8)
            rulesDirectory = dir.path
        } else {
            rulesDirectory = Self.stockRules
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: "/etc/spamassassin") where name.hasSuffix(".pre") {
            try FileManager.default.copyItem(atPath: "/etc/spamassassin/" + name, toPath: siteConfig.appendingPathComponent(name).path)
        }
        try """
            use_bayes 0
            report_safe 0
            add_header all Hits _TESTS(,)_
            add_header all Sub _SUBTESTS(,)_
            \(localRules)
            """.write(to: siteConfig.appendingPathComponent("local.cf"), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// The rule paths mdad reads to see the same rules.
    var rulePaths: [String] { [rulesDirectory, siteConfig.path] }

    static var installed: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/spamassassin") }

    /// Every rule that hit in each message (`_TESTS_` and `_SUBTESTS_`), in order.
    func hits(_ messages: [[UInt8]]) throws -> [Set<String>] {
        try headers(messages).map { fields in
            var set: Set<String> = []
            for (name, value) in fields where name == "X-Spam-Hits" || name == "X-Spam-Sub" {
                for n in value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }) where n != "none" { set.insert(String(n)) }
            }
            return set
        }
    }

    /// The header fields of each message as spamassassin returns it (values folded as it
    /// folded them), by the message's X-Corpus-Id.
    func headers(_ messages: [[UInt8]]) throws -> [[(name: String, value: String)]] {
        var mbox: [UInt8] = []
        for m in messages {
            mbox += Array("From judge@localhost Thu Jan  1 00:00:00 2026\n".utf8)
            // mbox quoting: a body line starting "From " would split the message.
            var text = String(decoding: m, as: UTF8.self)
            text = text.replacingOccurrences(of: "\nFrom ", with: "\n>From ")
            mbox += Array(text.utf8)
            if mbox.last != 10 { mbox.append(10) }
            mbox.append(10)
        }
        let input = directory.appendingPathComponent("corpus.mbox")
        if let dump = ProcessInfo.processInfo.environment["MDAD_SPAM_DUMP"] { try? Data(mbox).write(to: URL(fileURLWithPath: dump)) }
        try Data(mbox).write(to: input)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/spamassassin")
        p.arguments = ["-L", "--mbox", "--configpath=\(rulesDirectory)", "--siteconfigpath=\(siteConfig.path)"]
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = directory.appendingPathComponent("home").path
        p.environment = env
        p.standardInput = try FileHandle(forReadingFrom: input)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "spamassassin exited with \(p.terminationStatus)")
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var results = [[(name: String, value: String)]?](repeating: nil, count: messages.count)
        for chunk in text.components(separatedBy: "\nFrom judge@localhost ") {
            let header = chunk.components(separatedBy: "\n\n").first ?? ""
            var fields: [(name: String, value: String)] = []
            for line in header.components(separatedBy: "\n").dropFirst() {
                if line.hasPrefix("\t") || line.hasPrefix(" "), !fields.isEmpty {
                    fields[fields.count - 1].value += "\n" + line
                } else if let colon = line.firstIndex(of: ":") {
                    fields.append((String(line[..<colon]), String(line[line.index(after: colon)...].dropFirst())))
                }
            }
            if let id = fields.first(where: { $0.name == "X-Corpus-Id" }).flatMap({ Int($0.value) }), id >= 0, id < results.count {
                results[id] = fields
            }
        }
        let missing = results.indices.filter { results[$0] == nil }
        try #require(missing.isEmpty, "spamassassin gave no result for messages \(missing)")
        return results.map { $0! }
    }
}

import Foundation
import Testing
@testable import Plugins

/// Pigeonhole's `sievec` judges mdad's compile errors: the same broken scripts through both,
/// and for each the lines of every error reported must be the same (and so their number).
/// Pigeonhole prints no columns, so columns are not compared.
@Suite("Sieve compile errors against Pigeonhole's sievec", .serialized)
struct SieveErrorDifferentialTests {
    /// Lines with one validation error each (the script requires only fileinto).
    static let validationErrors = [
        "fileinto 1;", "redirect;", "keep :foo;", "if size 3 { keep; }", "frob;", "discard \"x\";",
        "if header \"a\" { keep; }", "if address :bogus \"to\" \"x\" { keep; }", "stop 1;", "require \"fileinto\";",
        "elsif true { keep; }", "if true;", "reject \"x\";", "if exists { keep; }", "if not { keep; }",
        "vacation \"x\";", "if envelope \"to\" \"x\" { keep; }", "set \"a\" \"b\";", "fileinto :copy \"a\";",
        "if header :contains [\"a\", \"b\"] { keep; }", "keep; else { keep; }", "if true { frob; } else { redirect 1; }",
        "if anyof() { keep; }", "if allof(true, frob) { keep; }", "redirect \"not an address\";", "if size :over \"1\" { keep; }",
    ]
    /// Lines with one syntax error each.
    static let parseErrors = [
        "if true { keep }", "fileinto \"a\" , ;", "if anyof(true false) { keep; }", "keep [ \"a\" ;", "redirect \"a\" ) ;",
        "if true { discard } ", "keep ]", "stop {", "if header :is \"a\" [\"b\" \"c\"] { keep; }",
    ]
    static let validLines = [
        "keep;", "if header :contains \"subject\" \"x\" { fileinto \"a\"; }", "discard;",
        "if size :over 10K { stop; }", "if anyof (exists \"x\", true) {\n  keep;\n}",
    ]

    /// A script of `count` lines, valid ones mixed with errors of the given kinds.
    static func script(_ g: inout SieveDifferentialTests.Generator, errors: [String], count: Int) -> String {
        var lines = ["require [\"fileinto\"];"]
        for _ in 0..<count {
            lines.append(g.chance(50) ? g.pick(errors) : g.pick(validLines))
        }
        if !lines.contains(where: { errors.contains($0) }) { lines.append(g.pick(errors)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The corpus: each error alone, then generated scripts with several errors.
    static func corpus() -> [String] {
        var out = (validationErrors + parseErrors).map { "require [\"fileinto\"];\nkeep;\n\($0)\nkeep;\n" }
        var g = SieveDifferentialTests.Generator(state: 9_009)
        for _ in 0..<60 { out.append(script(&g, errors: validationErrors, count: 8)) }
        for _ in 0..<30 { out.append(script(&g, errors: parseErrors, count: 8)) }
        for _ in 0..<20 { out.append(script(&g, errors: validationErrors + parseErrors, count: 10)) }
        // Lexical errors and scripts that stop early.
        out += ["keep;\n@\nfrob;\n", "keep;\n\"open\nkeep;\n", "keep;\n}\nfrob;\n", "/* open\nkeep;\n", "keep;\nkeep \"a\" 99999999999999;\n"]
        return out
    }

    /// The line numbers of the errors `sievec` reports (`name: line N: error: …`).
    static func pigeonhole(_ script: String, in dir: URL, index: Int) throws -> [Int] {
        let file = dir.appendingPathComponent("e\(index).sieve")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sievec")
        p.arguments = [file.path, dir.appendingPathComponent("e\(index).svbin").path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return lines(text)
    }

    static func lines(_ text: String) -> [Int] {
        text.split(separator: "\n").compactMap { l -> Int? in
            guard let r = l.range(of: ": line "), l.contains(": error: ") else { return nil }
            return Int(l[r.upperBound...].prefix { $0.isNumber })
        }
    }

    static func mdad(_ script: String) -> [Int] {
        do {
            _ = try SieveLoader.compile(Array(script.utf8), name: "e", includes: SieveIncludeLocations(personal: nil, global: nil))
            return []
        } catch {
            return error.all.map(\.line)
        }
    }

    @Test func errorLinesAndCountsAgreeWithSievec() throws {
        guard SieveDifferentialTests.pigeonholeInstalled else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-sievec-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = Self.corpus()
        var sameLines = 0, sameCount = 0
        var differences: [String] = []
        for (i, script) in corpus.enumerated() {
            let theirs = try Self.pigeonhole(script, in: dir, index: i)
            let ours = Self.mdad(script)
            if theirs.count == ours.count { sameCount += 1 }
            if theirs == ours { sameLines += 1 } else {
                differences.append("script \(i): sievec lines \(theirs), mdad lines \(ours)\n\(script)")
            }
        }
        print("Sieve compile errors: \(sameLines)/\(corpus.count) error scripts give the same error lines as sievec, \(sameCount)/\(corpus.count) the same number of errors")
        for d in differences { print("DIFFERENCE \(d)") }
        #expect(corpus.allSatisfy { !Self.mdad($0).isEmpty }, "every script of the corpus has an error")
        #expect(sameLines >= 148, "agreement fell to \(sameLines)/\(corpus.count)")
        #expect(sameCount >= sameLines)
    }
}

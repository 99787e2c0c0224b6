import Testing
@testable import Pipeline

struct RegexFixture: Sendable {
    let pattern: String
    let options: PCRERegex.Options
    let subject: String
    let matches: Bool
}

let regexFixtures: [RegexFixture] = [
    .init(pattern: "^Subject:.*viagra", options: [.utf, .caseless], subject: "subject: Cheap VIAGRA", matches: true),
    .init(pattern: "^Subject:.*viagra", options: [.utf], subject: "Subject: Cheap VIAGRA", matches: false),
    .init(pattern: "^b$", options: [.utf, .multiline], subject: "a\nb\nc", matches: true),
    .init(pattern: "^b$", options: [.utf], subject: "a\nb\nc", matches: false),
    .init(pattern: "a.b", options: [.utf, .dotAll], subject: "a\nb", matches: true),
    .init(pattern: "a.b", options: [.utf], subject: "a\nb", matches: false),
    .init(pattern: "a b # comment", options: [.utf, .extended], subject: "ab", matches: true),
    .init(pattern: "Grüße", options: [.utf, .caseless], subject: "GRÜSSE grüße", matches: true),
    .init(pattern: "\\bcafé\\b", options: [.utf, .ucp], subject: "un café noir", matches: true),
    .init(pattern: "\\bcafé\\b", options: [.utf], subject: "un café noir", matches: false),   // ASCII \b without UCP
]

@Suite("PCRE2")
struct PCRERegexTests {
    @Test(arguments: regexFixtures)
    func matches(_ f: RegexFixture) throws {
        let r = try PCRERegex(f.pattern, options: f.options)
        #expect(try r.matches(f.subject) == f.matches)
    }

    @Test func invalidUTF8StillMatches() throws {
        let r = try PCRERegex("w.rld")
        // Latin-1 bytes in the middle of the subject: not UTF-8, but the match goes on.
        let subject: [UInt8] = [0x47, 0x72, 0xFC, 0xDF, 0x65, 0x20] + Array("world".utf8)
        #expect(try r.matches(subject))
        #expect(try r.firstMatch(in: subject)?.range == 6..<11)
        // An invalid byte never matches '.'.
        #expect(try !PCRERegex("Gr..e").matches(subject))
    }

    @Test func capturesAndOffsets() throws {
        let r = try PCRERegex("(\\w+)@(\\w+)?(x)?")
        #expect(try r.captures(in: "mail alice@example now") == ["alice@example", "alice", "example", nil])
        #expect(try r.firstMatch(in: Array("a@b c@d".utf8), from: 3)?.range == 4..<7)
        #expect(try r.firstMatch(in: [UInt8]()) == nil)
    }

    @Test(arguments: [("a(b", 3), ("x{2,1}", 5), ("[z-a]", 3), ("(?<n>a)(?<n>b)", 12)])
    func compileErrorCarriesOffset(_ pattern: String, _ offset: Int) {
        do {
            _ = try PCRERegex(pattern)
            Issue.record("\(pattern) compiled")
        } catch {
            #expect(error.offset == offset)
            #expect(!error.message.isEmpty)
            #expect(error.description.contains(pattern))
        }
    }

    @Test func isJITCompiled() throws {
        #expect(try PCRERegex("abc").isJIT)
    }

    @Test func matchLimitStopsCatastrophicBacktracking() throws {
        let r = try PCRERegex("^(a+)+$", limits: .init(matchLimit: 10_000, depthLimit: 1_000))
        let subject = String(repeating: "a", count: 40) + "b"
        #expect(throws: PCRERegex.Error.self) { try r.matches(subject) }
    }

    @Test func limitsComeFromMainCF() throws {
        let c = try Configuration(mainCF: "pcre_match_limit = 10000\npcre_depth_limit = 1000\n", file: "main.cf",
                                  system: SystemInfo(hostName: "h.example"))
        let limits = try PCRERegex.Limits(c)
        #expect(limits.matchLimit == 10_000 && limits.depthLimit == 1_000)
        let r = try PCRERegex("^(a+)+$", limits: limits)
        #expect(throws: PCRERegex.Error.self) { try r.matches(String(repeating: "a", count: 40) + "b") }
        let bad = try Configuration(mainCF: "pcre_match_limit = 0\n", file: "main.cf", system: SystemInfo(hostName: "h.example"))
        do {
            _ = try PCRERegex.Limits(bad)
            Issue.record("0 must be refused")
        } catch {
            #expect(error.line == 1)
        }
    }

    @Test func sharedAcrossTasks() async throws {
        let r = try PCRERegex("needle\\d+")
        let hits = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var n = 0
                    for i in 0..<500 where (try? r.matches("hay needle\(t * 1000 + i) hay")) == true { n += 1 }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(hits == 4_000)
    }
}

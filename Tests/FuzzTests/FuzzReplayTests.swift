import Foundation
import Testing
import FuzzTargets
import Plugins

/// Every seed and every past crash, through the same entry points libFuzzer drives
/// (fuzz/run.sh): a crash found while fuzzing is saved under Corpus/TARGET/ and stays here as
/// a regression test. Each target must have seeds.
@Suite("fuzz corpora replay")
struct FuzzReplayTests {
    static var corpus: URL { Bundle.module.resourceURL!.appendingPathComponent("Corpus") }

    static func files(_ target: String) -> [URL] {
        let dir = corpus.appendingPathComponent(target)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTargets.all.keys.sorted())
    func seedsAndPastCrashesRunClean(target: String) throws {
        let run = try #require(FuzzTargets.all[target])
        let files = Self.files(target)
        #expect(files.count >= 3, "fuzz target \(target) needs seeds in Tests/FuzzTests/Corpus/\(target)")
        for file in files { run(Array(try Data(contentsOf: file))) }
    }

    /// The milter seeds are whole conversations, so the fuzzer starts from every state: each
    /// reaches an outcome, and the one full of modification requests yields all of them.
    @Test func milterSeedsReachTheirOutcomes() throws {
        for file in Self.files("milter") {
            let outcome = FuzzTargets.milterOutcome(Array(try Data(contentsOf: file)))
            #expect(outcome != nil, "\(file.lastPathComponent) does not reach the end of the conversation")
            if file.lastPathComponent == "modifications" { #expect(outcome?.modifications.count == 8) }
            if file.lastPathComponent == "tempfail" {
                if case .tempfail = outcome?.verdict {} else { Issue.record("tempfail seed gave \(String(describing: outcome?.verdict))") }
            }
        }
    }
}

import Foundation
import Testing
import FuzzTargets

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
}

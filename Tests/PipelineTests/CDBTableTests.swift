#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline

@Suite("cdb tables")
struct CDBTableTests {
    func temp() -> String {
        var template = Array("/tmp/mdad-cdb.XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    @Test func writeThenLookUpCaseInsensitivelyWithAndWithoutNul() throws {
        let dir = temp()
        defer { _ = system("rm -rf '\(dir)'") }
        let w = try CDBWriter(path: dir + "/t.cdb")
        try w.add(Array("alice@example.com".utf8), Array("a/".utf8))
        try w.add(Array("bob".utf8) + [0], Array("b/".utf8) + [0])   // as postmap -N writes
        try w.commit()
        let t = try CDBTable(source: dir + "/t", name: "cdb:t")
        #expect(try t.lookup("Alice@Example.COM") == "a/")
        #expect(try t.lookup("bob") == "b/")
        #expect(try t.lookup("carol") == nil)
        #expect(t.entries().count == 2)
    }

    /// The batched lookups of `postalias -q -` give what one lookup at a time gives, on a table
    /// big enough that the prefetching runs ahead, in both key forms (a table built with NULs is
    /// learnt from its first hit, and its misses still miss).
    @Test(arguments: [false, true])
    func batchedLookupsAnswerAsSingleOnes(withNul: Bool) throws {
        let dir = temp()
        defer { _ = system("rm -rf '\(dir)'") }
        let w = try CDBWriter(path: dir + "/t.cdb")
        let tail: [UInt8] = withNul ? [0] : []
        for i in 0..<5000 { try w.add(Array("user\(i)".utf8) + tail, Array("value \(i)".utf8) + tail) }
        try w.commit()
        let single = try CDBTable(source: dir + "/t", name: "cdb:t")
        let batch = try CDBTable(source: dir + "/t", name: "cdb:t")
        var bytes: [UInt8] = []
        var keys: [Range<Int>] = []
        for i in stride(from: 0, to: 6000, by: 7) {
            let key = Array((i % 3 == 0 ? "USER\(i)" : "user\(i)").utf8)   // past 4999: misses
            keys.append(bytes.count..<(bytes.count + key.count))
            bytes += key + [10]
        }
        var answers: [Int: String] = [:]
        batch.withValues(in: bytes, keys: keys) { i, value in
            if let value { answers[i] = String(decoding: value, as: UTF8.self) }
        }
        var expected: [Int: String] = [:]
        for (i, r) in keys.enumerated() {
            if let v = try single.lookup(String(decoding: bytes[r], as: UTF8.self)) { expected[i] = v }
        }
        #expect(expected.count == 715)
        #expect(answers == expected)
        #expect(answers[0] == "value 0" && answers[3] == "value 21")
    }

    @Test func aRebuiltTableIsPickedUpWithoutReopening() throws {
        let dir = temp()
        defer { _ = system("rm -rf '\(dir)'") }
        let first = try CDBWriter(path: dir + "/t.cdb")
        try first.add(Array("k".utf8), Array("old".utf8))
        try first.commit()
        let t = try CDBTable(source: dir + "/t", name: "cdb:t")
        #expect(try t.lookup("k") == "old")
        sleep(1)   // the replacement check runs at most once a second
        let second = try CDBWriter(path: dir + "/t.cdb")
        try second.add(Array("k".utf8), Array("new".utf8))
        try second.commit()
        sleep(1)
        #expect(try t.lookup("k") == "new")
    }

    @Test func anAbandonedBuildLeavesTheOldTable() throws {
        let dir = temp()
        defer { _ = system("rm -rf '\(dir)'") }
        let first = try CDBWriter(path: dir + "/t.cdb")
        try first.add(Array("k".utf8), Array("v".utf8))
        try first.commit()
        let second = try CDBWriter(path: dir + "/t.cdb")
        try second.add(Array("k".utf8), Array("other".utf8))
        second.abandon()
        #expect(try CDBTable(source: dir + "/t", name: "cdb:t").lookup("k") == "v")
        var names: [String] = []
        if let d = opendir(dir) {
            while let e = readdir(d) {
                let n = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
                if !n.hasPrefix(".") { names.append(n) }
            }
            closedir(d)
        }
        #expect(names == ["t.cdb"], "no temporary file is left")
    }

    @Test func aMissingTableIsAConfigErrorNamingTheFile() {
        do {
            _ = try TableRegistry.builtin.open("cdb:/nonexistent/mdad/aliases")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("/nonexistent/mdad/aliases.cdb"))
        }
    }
}

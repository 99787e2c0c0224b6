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

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// A private temporary directory for one test, removed afterwards.
final class TempDir {
    let path: String

    init() {
        var template = Array("/tmp/mdad-test.XXXXXX".utf8CString)
        let p = mkdtemp(&template)!
        path = String(cString: p)
    }

    deinit { _ = remove(path) }

    func remove(_ p: String) -> Int32 {
        var st = stat()
        guard lstat(p, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in list(p) { _ = remove(p + "/" + name) }
            return rmdir(p)
        }
        return unlink(p)
    }

    func list(_ p: String) -> [String] {
        guard let dir = opendir(p) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    func read(_ p: String) throws -> [UInt8] { try Posix.readFile(p) }
}

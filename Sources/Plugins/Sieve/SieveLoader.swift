#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Where `include` finds scripts: `:personal` in the user's sieve directory, `:global` in
/// `sieve_global`; each named `NAME.sieve`.
public struct SieveIncludeLocations: Sendable {
    public var personal: String?
    public var global: String?
    /// When set, personal scripts must belong to this user (the engine runs as root).
    public var personalOwner: uid_t?

    public init(personal: String?, global: String?, personalOwner: uid_t? = nil) {
        self.personal = personal
        self.global = global
        self.personalOwner = personalOwner
    }
}

/// Compiles a script with every script it includes (compile once, run many).
public enum SieveLoader {
    /// Largest script file read.
    static let maxScriptSize = 1 << 20
    /// Largest number of distinct scripts one program includes.
    static let maxIncludes = 255

    /// The name errors use: the file name without its directory and `.sieve`.
    public static func scriptName(_ path: String) -> String {
        var name = String(path.split(separator: "/").last ?? Substring(path))
        if name.hasSuffix(".sieve") { name.removeLast(6) }
        return name
    }

    public static func read(_ path: String) throws(SieveError) -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try Posix.readFile(path, limit: maxScriptSize + 1) } catch let e as SystemError {
            throw SieveError(script: scriptName(path), line: 0, "failed to open sieve script '\(path)': \(e.message)")
        } catch {
            throw SieveError(script: scriptName(path), line: 0, "failed to read sieve script '\(path)'")
        }
        if bytes.count > maxScriptSize { throw SieveError(script: scriptName(path), line: 0, "sieve script '\(path)' is larger than \(maxScriptSize) bytes") }
        return bytes
    }

    public static func compile(path: String, includes: SieveIncludeLocations) throws(SieveError) -> SieveProgram {
        try compile(read(path), name: scriptName(path), includes: includes)
    }

    public static func compile(_ bytes: [UInt8], name: String, includes: SieveIncludeLocations) throws(SieveError) -> SieveProgram {
        let (main, wanted) = try SieveCompiler.compile(bytes, name: name)
        var library: [String: SieveScript] = [:]
        var missing: Set<String> = []
        var dependencies: [String] = []
        var queue = wanted.map { ($0, main.name) }
        while !queue.isEmpty {
            let (inc, from) = queue.removeFirst()
            if library[inc.key] != nil || missing.contains(inc.key) { continue }
            guard library.count < maxIncludes else {
                throw SieveError(script: from, line: inc.line, "include: the number of included scripts exceeds the limit of \(maxIncludes)")
            }
            let dir = inc.location == .global ? includes.global : includes.personal
            guard let dir, !dir.isEmpty else {
                if inc.optional { missing.insert(inc.key); continue }
                throw SieveError(script: from, line: inc.line, "include: \(inc.location.rawValue) script location for script '\(inc.name)' is not configured")
            }
            let path = dir + "/" + inc.name + ".sieve"
            dependencies.append(path)
            if access(path, F_OK) != 0 {
                if inc.optional { missing.insert(inc.key); continue }
                throw SieveError(script: from, line: inc.line, "included \(inc.location.rawValue) script '\(inc.name)' does not exist")
            }
            if inc.location == .personal, let owner = includes.personalOwner {
                var st = stat()
                guard stat(path, &st) == 0, st.st_uid == owner else {
                    throw SieveError(script: from, line: inc.line, "included personal script '\(inc.name)' is not owned by the user")
                }
            }
            let (script, more) = try SieveCompiler.compile(try read(path), name: inc.name)
            library[inc.key] = script
            queue += more.map { ($0, inc.name) }
        }
        return SieveProgram(main: main, library: library, missing: missing, dependencies: dependencies)
    }
}

/// Compiled programs by path, kept until the file or one it includes changes (mtime, size, or
/// coming into or going out of existence).
public final class SieveScriptCache: @unchecked Sendable {
    struct Signature: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int

        init?(_ path: String) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            seconds = Int(st.st_mtim.tv_sec)
            nanoseconds = Int(st.st_mtim.tv_nsec)
            size = Int(st.st_size)
        }
    }
    struct Entry {
        var signatures: [String: Signature?]
        var program: SieveProgram
    }
    private let entries = Locked<[String: Entry]>([:])
    let limit: Int

    public init(limit: Int = 1000) {
        self.limit = limit
    }

    /// The program at `path`, compiled when it is new or changed; nil when there is no file.
    public func program(at path: String, includes: SieveIncludeLocations) throws(SieveError) -> SieveProgram? {
        guard let main = Signature(path) else { return nil }
        let cached = entries.withLock { $0[path] }
        if let cached, cached.signatures.allSatisfy({ $0.key == path ? $0.value == main : Signature($0.key) == $0.value }) {
            return cached.program
        }
        let compiled: Result<SieveProgram, SieveError>
        do { compiled = .success(try SieveLoader.compile(path: path, includes: includes)) } catch { compiled = .failure(error) }
        // A script that does not compile is compiled again next time: an include it lacks
        // may have appeared since.
        guard case .success(let program) = compiled else { return try compiled.get() }
        var signatures: [String: Signature?] = [path: main]
        for d in program.dependencies { signatures[d] = Signature(d) }
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll() }
            entries[path] = Entry(signatures: signatures, program: program)
        }
        return program
    }
}

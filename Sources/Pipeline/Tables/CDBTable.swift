#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCDB

/// `cdb:/path`: a compiled table in tinycdb's constant-database format, the file `/path.cdb`
/// that `mdad postmap`/`postalias` (or Postfix's, from postfix-cdb) build from `/path`.
///
/// Keys are stored folded to lower case and without a terminating NUL, as Postfix writes
/// them on Linux; a lookup also tries the key with a NUL, for tables built with `-N`. The file
/// is memory-mapped; a rebuilt table (a new file renamed over the old one) is picked up at the
/// next lookup after a check that runs at most once a second, so a running daemon needs no
/// restart. Lookups from many threads are safe: each works on its own copy of the cursor.
public final class CDBTable: LookupTable, @unchecked Sendable {
    public let name: String
    public let path: String
    private var mutex = pthread_mutex_t()
    /// The mapped file in use. A lookup holds a reference to it, so a reload that replaces it
    /// never unmaps memory a lookup in another thread is reading.
    private var mapping: Mapping?
    private var identity: (dev: UInt64, ino: UInt64, mtime: Int) = (0, 0, 0)
    private var lastCheck = 0

    final class Mapping: @unchecked Sendable {
        var db: cdb
        let fd: Int32
        init(db: cdb, fd: Int32) { self.db = db; self.fd = fd }
        deinit {
            cdb_free(&db)
            close(fd)
        }
    }

    /// Opens `source + ".cdb"`.
    public init(source: String, name: String) throws(ConfigError) {
        self.name = name
        self.path = source + ".cdb"
        pthread_mutex_init(&mutex, nil)
        do {
            try open()
        } catch {
            throw ConfigError(file: path, "\(name): cannot open table: \(error); expected a table built by mdad postmap or postalias")
        }
        if let sourceTime = CDBTable.mtime(source), sourceTime > identity.mtime {
            warnings.append(ConfigError(file: path, "\(name): database \(path) is older than source file \(source)"))
        }
    }

    /// Problems Postfix would warn about (a database older than its source).
    public private(set) var warnings: [ConfigError] = []

    private func open() throws {
        let newFD = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if newFD < 0 { throw SystemError("open", path: path) }
        var st = stat()
        fstat(newFD, &st)
        var newDB = cdb()
        if cdb_init(&newDB, newFD) != 0 {
            let e = SystemError("cdb_init", path: path)
            close(newFD)
            throw e
        }
        mapping = Mapping(db: newDB, fd: newFD)
        identity = (UInt64(st.st_dev), UInt64(st.st_ino), Int(st.st_mtim.tv_sec))
    }

    static func mtime(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : nil
    }

    /// Reopens the file when it was replaced (checked at most once a second).
    private func refreshIfReplaced() {
        let now = Int(time(nil))
        guard now != lastCheck else { return }
        lastCheck = now
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if UInt64(st.st_ino) != identity.ino || UInt64(st.st_dev) != identity.dev || Int(st.st_mtim.tv_sec) != identity.mtime {
            try? open()
        }
    }

    public func lookup(_ key: String) throws(TableError) -> String? {
        let folded = Array(key.lowercased().utf8)
        pthread_mutex_lock(&mutex)
        refreshIfReplaced()
        let current = mapping
        pthread_mutex_unlock(&mutex)
        guard let current else { throw TableError(table: name, "table not open") }
        var cursor = current.db
        let found = CDBTable.find(&cursor, folded) ?? CDBTable.find(&cursor, folded + [0]).map { v in
            v.hasSuffix("\0") ? String(v.dropLast()) : v
        }
        withExtendedLifetime(current) {}
        return found
    }

    /// Bulk lookups without Strings (`postalias -q -` over a million keys): the key is folded to
    /// lower case (ASCII) in place and `body` sees the value bytes, or nil.
    public func withValue<R>(forKey key: inout [UInt8], _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        for i in key.indices where key[i] >= 65 && key[i] <= 90 { key[i] += 32 }
        pthread_mutex_lock(&mutex)
        refreshIfReplaced()
        let current = mapping
        pthread_mutex_unlock(&mutex)
        guard let current else { return body(nil) }
        var cursor = current.db
        defer { withExtendedLifetime(current) {} }
        var found = key.withUnsafeBytes { cdb_find(&cursor, $0.baseAddress, UInt32($0.count)) }
        var trimNul = false
        if found <= 0 {
            key.append(0)
            found = key.withUnsafeBytes { cdb_find(&cursor, $0.baseAddress, UInt32($0.count)) }
            key.removeLast()
            trimNul = true
        }
        guard found > 0, let p = cdb_get(&cursor, cursor.cdb_vlen, cursor.cdb_vpos) else { return body(nil) }
        var count = Int(cursor.cdb_vlen)
        if trimNul, count > 0, p.load(fromByteOffset: count - 1, as: UInt8.self) == 0 { count -= 1 }
        return body(UnsafeRawBufferPointer(start: p, count: count))
    }

    /// Which form of key the table holds, learnt from the first hit as Postfix's dict_cdb does
    /// (it tries a key without and with a terminating NUL until one form is found, then keeps
    /// to it, so a miss costs one probe). Guarded by `mutex`.
    private var keyForm: KeyForm = .unknown
    private enum KeyForm { case unknown, plain, withNul }

    /// Many lookups at once (`postalias -q -` over a million keys). `keys` are ranges of `bytes`,
    /// looked up folded to lower case (ASCII); `body(i, value)` sees the answers in order.
    ///
    /// A lookup in a large table is two trips to memory (the hash slot, then the record), so
    /// while key i is looked up, the record of key i+8 and the slot of key i+16 are already
    /// on their way (prefetch hints from the shim; they never change an answer).
    public func withValues(in bytes: [UInt8], keys: [Range<Int>], _ body: (Int, UnsafeRawBufferPointer?) -> Void) {
        var folded = bytes
        for r in keys { for i in r where folded[i] >= 65 && folded[i] <= 90 { folded[i] += 32 } }
        pthread_mutex_lock(&mutex)
        refreshIfReplaced()
        let current = mapping
        var form = keyForm
        pthread_mutex_unlock(&mutex)
        guard let current else {
            for i in keys.indices { body(i, nil) }
            return
        }
        var cursor = current.db
        let ahead = 8
        var withNul: [UInt8] = []
        folded.withUnsafeBytes { all in
            let base = all.baseAddress!
            let hashes = keys.map { cdb_hash(base + $0.lowerBound, UInt32($0.count)) }
            for k in 0..<min(keys.count, 2 * ahead) { mdad_cdb_prefetch_slot(&cursor, hashes[k]) }
            for (i, key) in keys.enumerated() {
                if i + 2 * ahead < keys.count { mdad_cdb_prefetch_slot(&cursor, hashes[i + 2 * ahead]) }
                if i + ahead < keys.count { mdad_cdb_prefetch_record(&cursor, hashes[i + ahead]) }
                var found: Int32 = 0
                var trimNul = false
                if form != .withNul {
                    found = cdb_find(&cursor, base + key.lowerBound, UInt32(key.count))
                    if found > 0 { form = .plain }
                }
                if found <= 0, form != .plain {
                    withNul.removeAll(keepingCapacity: true)
                    withNul += all[key]
                    withNul.append(0)
                    found = withNul.withUnsafeBytes { cdb_find(&cursor, $0.baseAddress, UInt32($0.count)) }
                    if found > 0 { form = .withNul; trimNul = true }
                }
                guard found > 0, let p = cdb_get(&cursor, cursor.cdb_vlen, cursor.cdb_vpos) else {
                    body(i, nil)
                    continue
                }
                var count = Int(cursor.cdb_vlen)
                if trimNul, count > 0, p.load(fromByteOffset: count - 1, as: UInt8.self) == 0 { count -= 1 }
                body(i, UnsafeRawBufferPointer(start: p, count: count))
            }
        }
        pthread_mutex_lock(&mutex)
        if keyForm == .unknown { keyForm = form }
        pthread_mutex_unlock(&mutex)
        withExtendedLifetime(current) {}
    }

    static func find(_ cursor: inout cdb, _ key: [UInt8]) -> String? {
        let found = key.withUnsafeBytes { cdb_find(&cursor, $0.baseAddress, UInt32($0.count)) }
        guard found > 0, let p = cdb_get(&cursor, cursor.cdb_vlen, cursor.cdb_vpos) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(cursor.cdb_vlen)), as: UTF8.self)
    }

    /// Every key and value, in file order (`postalias -s`).
    public func entries() -> [(key: String, value: String)] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        var out: [(String, String)] = []
        var position: UInt32 = 2048
        guard let current = mapping else { return [] }
        var cursor = current.db
        while cdb_seqnext(&position, &cursor) > 0 {
            let k = cdb_get(&cursor, cursor.cdb_klen, cursor.cdb_kpos)
            let v = cdb_get(&cursor, cursor.cdb_vlen, cursor.cdb_vpos)
            let key = String(decoding: UnsafeRawBufferPointer(start: k, count: Int(cursor.cdb_klen)), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(start: v, count: Int(cursor.cdb_vlen)), as: UTF8.self)
            out.append((key, value))
        }
        withExtendedLifetime(current) {}
        return out
    }
}

/// Builds a cdb file: written to a temporary file beside it, fsynced and renamed over the old
/// one, so a reader sees the old table or the new one, never half of one.
///
/// tinycdb's `struct cdb_make` points into its own buffer, so it lives at a fixed heap
/// address for the whole build (a Swift value would be moved around).
public final class CDBWriter {
    public let path: String
    let temporary: String
    let maker: UnsafeMutablePointer<cdb_make>
    let fd: Int32
    private var finished = false

    public init(path: String) throws {
        self.path = path
        self.temporary = path + ".tmp.\(getpid())"
        let fd = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw SystemError("open", path: temporary) }
        self.fd = fd
        maker = UnsafeMutablePointer<cdb_make>.allocate(capacity: 1)
        maker.initialize(to: cdb_make())
        if cdb_make_start(maker, fd) != 0 {
            let e = SystemError("cdb_make_start", path: temporary)
            close(fd)
            unlink(temporary)
            maker.deallocate()
            finished = true
            throw e
        }
    }

    deinit {
        if !finished { abandon() }
    }

    public func add(_ key: [UInt8], _ value: [UInt8]) throws {
        let rc = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in cdb_make_add(maker, k.baseAddress, UInt32(k.count), v.baseAddress, UInt32(v.count)) }
        }
        if rc != 0 { throw SystemError("cdb_make_add", path: temporary) }
    }

    /// Finishes the file and puts it in place.
    public func commit() throws {
        guard !finished else { return }
        finished = true
        defer {
            close(fd)
            maker.deallocate()
        }
        guard cdb_make_finish(maker) == 0 else {
            let e = SystemError("cdb_make_finish", path: temporary)
            unlink(temporary)
            throw e
        }
        do {
            try Posix.fsync(fd, path: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        try Posix.publish(temporary, as: path)
    }

    /// Abandons the build, leaving the old table in place.
    public func abandon() {
        guard !finished else { return }
        finished = true
        // tinycdb (0.78) has no cdb_make_free: the record lists of an abandoned build leak,
        // once, on an error path of a short-lived command.
        close(fd)
        unlink(temporary)
        maker.deallocate()
    }
}

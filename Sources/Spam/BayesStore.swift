import CLMDB
import Pipeline

/// The Bayes token database: an LMDB environment in the directory `spam_bayes_path`.
///
/// Four named databases: `vars` (the message counts nspam and nham), `tokens` (per token its
/// spam count, ham count and the time it was last seen), `seen` (the ids of learned messages
/// with `s` or `h`, so learning twice is a no-op and `--forget` undoes exactly that), and
/// `feedback` (the Junk-folder watcher's memory of what it learned from which file).
///
/// LMDB gives readers a snapshot (MVCC): a check reads while a learner writes, and one writer
/// at a time is serialised by LMDB's own lock, across processes too. One environment is opened
/// once per process and path (LMDB's rule) and shared.
public final class BayesStore: @unchecked Sendable {
    /// Token counts as stored: 12 bytes, little-endian.
    public struct TokenCounts: Sendable, Equatable {
        public var spam: UInt32
        public var ham: UInt32
        public var atime: UInt32
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let env: OpaquePointer
    let vars: MDB_dbi
    let tokens: MDB_dbi
    let seen: MDB_dbi
    let feedback: MDB_dbi
    public let path: String

    /// The map is sparse on disk; 4 GiB leaves room for some millions of tokens.
    static let mapSize = 4 << 30
    static let openStores = Locked<[String: BayesStore]>([:])

    /// The store at `directory` (created if missing), opened once per process.
    public static func open(directory: String) throws -> BayesStore {
        try openStores.withLock { stores in
            if let s = stores[directory] { return s }
            let s = try BayesStore(directory: directory)
            stores[directory] = s
            return s
        }
    }

    private init(directory: String) throws {
        path = directory
        if !Posix.isDirectory(directory) {
            var prefix = ""
            for part in directory.split(separator: "/") {
                prefix += "/" + part
                if !Posix.isDirectory(prefix) { try Posix.makeDirectory(prefix, mode: 0o755) }
            }
        }
        var e: OpaquePointer?
        try Self.check(mdb_env_create(&e), "mdb_env_create", directory)
        guard let env = e else { throw Failure(description: "\(directory): mdb_env_create failed") }
        mdb_env_set_maxdbs(env, 8)
        mdb_env_set_mapsize(env, Self.mapSize)
        mdb_env_set_maxreaders(env, 254)
        // MDB_NOTLS: a read transaction is not tied to a thread (Swift tasks hop threads).
        let rc = mdb_env_open(env, directory, UInt32(MDB_NOTLS), 0o644)
        if rc != 0 { mdb_env_close(env); try Self.check(rc, "mdb_env_open", directory) }
        self.env = env
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin", directory)
        var handles: [MDB_dbi] = []
        for name in ["vars", "tokens", "seen", "feedback"] {
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
            if rc != 0 { mdb_txn_abort(txn); try Self.check(rc, "mdb_dbi_open \(name)", directory) }
            handles.append(dbi)
        }
        try Self.check(mdb_txn_commit(txn), "mdb_txn_commit", directory)
        (vars, tokens, seen, feedback) = (handles[0], handles[1], handles[2], handles[3])
    }

    static func check(_ rc: Int32, _ call: String, _ path: String) throws {
        guard rc != 0 else { return }
        throw Failure(description: "\(path): \(call): \(String(cString: mdb_strerror(rc)))")
    }

    /// A read-only snapshot for one message's classification.
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin", path)
        defer { mdb_txn_abort(txn) }
        return try body(Transaction(store: self, txn: txn!, writable: false))
    }

    /// One write transaction: committed when `body` returns, undone when it throws.
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin", path)
        let result: T
        do {
            result = try body(Transaction(store: self, txn: txn!, writable: true))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try Self.check(mdb_txn_commit(txn), "mdb_txn_commit", path)
        return result
    }

    /// A transaction's view of the store. Valid only inside `read` or `write`.
    public struct Transaction {
        let store: BayesStore
        let txn: OpaquePointer
        let writable: Bool

        func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
            try key.withUnsafeBufferPointer { k -> [UInt8]? in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var dv = MDB_val()
                let rc = mdb_get(txn, dbi, &kv, &dv)
                if rc == MDB_NOTFOUND { return nil }
                try BayesStore.check(rc, "mdb_get", store.path)
                return Array(UnsafeRawBufferPointer(start: dv.mv_data, count: dv.mv_size))
            }
        }

        func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
            try key.withUnsafeBufferPointer { k in
                try value.withUnsafeBufferPointer { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                    var dv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                    try BayesStore.check(mdb_put(txn, dbi, &kv, &dv, 0), "mdb_put", store.path)
                }
            }
        }

        func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws {
            try key.withUnsafeBufferPointer { k in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                let rc = mdb_del(txn, dbi, &kv, nil)
                if rc != MDB_NOTFOUND { try BayesStore.check(rc, "mdb_del", store.path) }
            }
        }

        /// The numbers of spam and ham messages learned.
        public func counts() throws -> (spam: Int, ham: Int) {
            (Int(try get(store.vars, Array("nspam".utf8)).map(Self.u64) ?? 0),
             Int(try get(store.vars, Array("nham".utf8)).map(Self.u64) ?? 0))
        }

        func setCounts(spam: Int, ham: Int) throws {
            try put(store.vars, Array("nspam".utf8), Self.bytes(UInt64(max(0, spam))))
            try put(store.vars, Array("nham".utf8), Self.bytes(UInt64(max(0, ham))))
        }

        public func token(_ t: [UInt8]) throws -> TokenCounts? {
            guard let v = try get(store.tokens, Self.key(t)), v.count >= 12 else { return nil }
            return TokenCounts(spam: Self.u32(v, 0), ham: Self.u32(v, 4), atime: Self.u32(v, 8))
        }

        func setToken(_ t: [UInt8], _ c: TokenCounts) throws {
            if c.spam == 0 && c.ham == 0 { try delete(store.tokens, Self.key(t)); return }
            var v = [UInt8](repeating: 0, count: 12)
            for (o, x) in [(0, c.spam), (4, c.ham), (8, c.atime)] {
                for i in 0..<4 { v[o + i] = UInt8(truncatingIfNeeded: x >> (8 * UInt32(i))) }
            }
            try put(store.tokens, Self.key(t), v)
        }

        /// `s` or `h` for a learned message id.
        public func seen(_ id: String) throws -> UInt8? { try get(store.seen, Array(id.utf8))?.first }
        func setSeen(_ id: String, _ value: UInt8?) throws {
            if let value { try put(store.seen, Array(id.utf8), [value]) } else { try delete(store.seen, Array(id.utf8)) }
        }

        /// What the Junk-folder watcher learned from a message key (`s` or `h`).
        public func feedback(_ key: String) throws -> UInt8? { try get(store.feedback, Array(key.utf8))?.first }
        func setFeedback(_ key: String, _ value: UInt8) throws { try put(store.feedback, Array(key.utf8), [value]) }

        /// The number of tokens stored.
        public func tokenCount() throws -> Int {
            var stat = MDB_stat()
            try BayesStore.check(mdb_stat(txn, store.tokens, &stat), "mdb_stat", store.path)
            return Int(stat.ms_entries)
        }

        /// LMDB keys are at most 511 bytes; tokens are far shorter, but a key is cut to fit.
        static func key(_ t: [UInt8]) -> [UInt8] { t.count <= 480 ? t : Array(t.prefix(480)) }
        static func u32(_ v: [UInt8], _ o: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(v[o + $1]) << (8 * UInt32($1)) }
        }
        static func u64(_ v: [UInt8]) -> UInt64 {
            (0..<min(8, v.count)).reduce(UInt64(0)) { $0 | UInt64(v[$1]) << (8 * UInt64($1)) }
        }
        static func bytes(_ x: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: x >> (8 * UInt64($0))) } }
    }
}

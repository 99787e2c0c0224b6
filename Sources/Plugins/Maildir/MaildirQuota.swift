#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// A mailbox quota: bytes and messages, 0 meaning no limit on that count.
public struct QuotaLimit: Sendable, Equatable, CustomStringConvertible {
    public var storage: Int
    public var messages: Int

    public init(storage: Int = 0, messages: Int = 0) {
        self.storage = storage
        self.messages = messages
    }

    public var isUnlimited: Bool { storage == 0 && messages == 0 }

    /// The quota definition line of a maildirsize file: `10485760S,1000C`.
    public var description: String {
        var parts: [String] = []
        if storage > 0 { parts.append("\(storage)S") }
        if messages > 0 { parts.append("\(messages)C") }
        return parts.joined(separator: ",")
    }

    /// Reads a quota as users write it: `100M`, `storage=1G messages=5000` (Dovecot's rule
    /// words), `10485760S,1000C` (a maildirsize definition); sizes take k, M, G, T (binary).
    /// nil for anything else.
    public init?(parsing text: String) {
        var limit = QuotaLimit()
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        guard !words.isEmpty else { return nil }
        for word in words {
            let lower = word.lowercased()
            if lower.hasPrefix("storage=") {
                guard let n = QuotaLimit.bytes(String(word.dropFirst(8))) else { return nil }
                limit.storage = n
            } else if lower.hasPrefix("messages=") {
                guard let n = Int(word.dropFirst(9)), n >= 0 else { return nil }
                limit.messages = n
            } else if word.hasSuffix("S"), let n = Int(word.dropLast()), n >= 0 {
                limit.storage = n
            } else if word.hasSuffix("C"), let n = Int(word.dropLast()), n >= 0 {
                limit.messages = n
            } else if let n = QuotaLimit.bytes(word) {
                limit.storage = n
            } else {
                return nil
            }
        }
        self = limit
    }

    static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var digits = Substring(text), unit = 1
        if let last = text.lowercased().last, let u = units[last] { digits = text.dropLast(); unit = u }
        guard let n = Int(digits), n >= 0, n <= Int.max / unit else { return nil }
        return n * unit
    }
}

/// The Maildir++ quota file (`maildirsize`), as Courier defined it and Dovecot keeps it.
///
/// The first line is the quota definition (`NNNS,MMMC`); each line after it is a change,
/// `bytes count`, appended by every delivery (and by IMAP servers on expunge). The usage is
/// their sum. The file is rebuilt from the messages themselves — by summing the `S=` sizes in
/// their names, or their file sizes — when it is missing, when its definition differs from the
/// configured quota, or when it has grown past 5120 bytes, as the specification asks; the
/// rebuilt file is written to a temporary name and renamed over the old one.
public struct MaildirQuota: Sendable {
    public let root: String
    public let limit: QuotaLimit
    /// Past this size the file is rebuilt (Maildir++: 5120 bytes).
    public var rebuildSize = 5120

    public init(root: String, limit: QuotaLimit) {
        self.root = root
        self.limit = limit
    }

    var file: String { root + "/maildirsize" }

    public struct Usage: Sendable, Equatable {
        public var bytes: Int
        public var messages: Int
    }

    /// The current usage, rebuilding the file when it is stale.
    public func usage() throws -> Usage {
        if let (definition, used, size) = try read(), definition == limit.description, size < rebuildSize {
            return used
        }
        return try rebuild()
    }

    /// Whether a message of `size` bytes still fits.
    public func check(adding size: Int) throws -> Bool {
        guard !limit.isUnlimited else { return true }
        let used = try usage()
        if limit.storage > 0 && used.bytes + size > limit.storage { return false }
        if limit.messages > 0 && used.messages + 1 > limit.messages { return false }
        return true
    }

    /// Whether the mailbox is already full (for RCPT-time checks, before the size is known).
    public func isFull() throws -> Bool {
        guard !limit.isUnlimited else { return false }
        let used = try usage()
        return (limit.storage > 0 && used.bytes >= limit.storage) || (limit.messages > 0 && used.messages >= limit.messages)
    }

    /// Records a delivered message: one appended line, written with one write(2) on an
    /// O_APPEND descriptor, so concurrent deliveries never interleave within a line.
    public func record(size: Int) throws {
        guard !limit.isUnlimited else { return }
        if !Posix.exists(file) { _ = try rebuild(); return }
        let fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 { throw SystemError("open", path: file) }
        defer { close(fd) }
        try Posix.writeAll(fd, Array("\(size) 1\n".utf8), path: file)
    }

    /// (definition line, summed usage, file size), or nil when there is no file.
    func read() throws -> (String, Usage, Int)? {
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(file, limit: 1 << 20)
        } catch let e as SystemError where e.errno == ENOENT {
            return nil
        }
        let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        guard let first = lines.first else { return nil }
        var used = Usage(bytes: 0, messages: 0)
        for line in lines.dropFirst() where !line.isEmpty {
            let fields = line.split(separator: 32)
            guard fields.count == 2, let b = Int(String(decoding: fields[0], as: UTF8.self)),
                  let c = Int(String(decoding: fields[1], as: UTF8.self)) else {
                return ("", used, Int.max)   // damaged: rebuild
            }
            used.bytes += b
            used.messages += c
        }
        return (String(decoding: first, as: UTF8.self), used, bytes.count)
    }

    /// Counts every message of every folder (cur/ and new/) and writes a fresh file.
    func rebuild() throws -> Usage {
        var used = Usage(bytes: 0, messages: 0)
        var dirs = [root]
        for name in Posix.directoryEntries(root) ?? [] where name.hasPrefix(".") {
            if Posix.isDirectory(root + "/" + name + "/cur") { dirs.append(root + "/" + name) }
        }
        for dir in dirs {
            for sub in ["/cur", "/new"] {
                let path = dir + sub
                for name in Posix.directoryEntries(path) ?? [] where !name.hasPrefix(".") {
                    used.messages += 1
                    used.bytes += Self.size(fromName: name) ?? Self.fileSize(path + "/" + name)
                }
            }
        }
        guard Posix.isDirectory(root) else { return used }
        let tmp = root + "/tmp/maildirsize.\(getpid()).\(Subprocess.monotonicSeconds())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            // A Maildir without tmp/ yet: the first delivery creates it; the count stands.
            if currentErrno() == ENOENT { return used }
            throw SystemError("open", path: tmp)
        }
        do {
            try Posix.writeAll(fd, Array("\(limit.description)\n\(used.bytes) \(used.messages)\n".utf8), path: tmp)
            close(fd)
            if rename(tmp, file) != 0 { throw SystemError("rename", path: file) }
        } catch {
            unlink(tmp)
            throw error
        }
        return used
    }

    /// `S=1234` in a Maildir file name (the size Dovecot and Courier record).
    static func size(fromName name: String) -> Int? {
        let chars = Array(name.utf8)
        guard chars.count > 3 else { return nil }
        for i in 0..<(chars.count - 2) where chars[i] == UInt8(ascii: ",") && chars[i + 1] == UInt8(ascii: "S") && chars[i + 2] == UInt8(ascii: "=") {
            let digits = chars[(i + 3)...].prefix { $0 >= 48 && $0 <= 57 }
            return Int(String(decoding: digits, as: UTF8.self))
        }
        return nil
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }
}

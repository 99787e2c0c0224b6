#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// The outbound queue on disk, laid out as Postfix's: `incoming` (complete, not yet looked
/// at), `active` (being delivered), `deferred` (waiting for the next try; the file's mtime is
/// the time of that try, as in Postfix), `hold` (kept until released), `corrupt` (unreadable),
/// `defer` (the last deferral reason of each message's recipients), and `maildrop` (mode 1733:
/// where `mdad sendmail` run by an ordinary user drops mail, picked up by the queue manager).
///
/// A file is written as `incoming/.ID`, fsynced, then renamed to `incoming/ID` and the directory
/// fsynced (``Posix/publish(_:as:)``): a name without a dot is always a complete message, and
/// only then is the message acknowledged.
public struct QueueStore: Sendable {
    public enum State: String, Sendable, CaseIterable {
        case maildrop, incoming, active, deferred, hold, corrupt
    }

    public let directory: String

    public init(directory: String) { self.directory = directory }

    public init(configuration config: Configuration) throws(ConfigError) {
        let d = try config.string("queue_directory")
        guard d.hasPrefix("/") else { throw config.error("queue_directory", "queue_directory = \(d): expected an absolute path") }
        self.init(directory: d)
    }

    public func path(_ state: State, _ id: String) -> String { "\(directory)/\(state.rawValue)/\(id)" }
    public func deferLogPath(_ id: String) -> String { "\(directory)/defer/\(id)" }

    /// Creates the directories (root: 0700 each, maildrop 1733 so any user can drop mail but
    /// not list or read others').
    public func create() throws {
        if !Posix.isDirectory(directory) { try Posix.makeDirectory(directory, mode: 0o755) }
        for s in State.allCases where !Posix.isDirectory("\(directory)/\(s.rawValue)") {
            try Posix.makeDirectory("\(directory)/\(s.rawValue)", mode: 0o700)
        }
        if !Posix.isDirectory("\(directory)/defer") { try Posix.makeDirectory("\(directory)/defer", mode: 0o700) }
        if geteuid() == 0 { chmod("\(directory)/maildrop", 0o1733) }
    }

    /// A queue ID like Postfix's short ones: 11 uppercase hex digits from the time (seconds
    /// and microseconds); uniqueness is settled by O_EXCL when the file is created, and a
    /// clash tries again with a later time.
    public static func newID() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        let seconds = UInt64(tv.tv_sec) & 0xFFFFFF, micro = UInt64(tv.tv_usec)
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return hex(seconds, 6) + hex(micro, 5)
    }

    public static func isQueueID(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 32 && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    /// Writes a new queue file and makes it durable; returns its queue ID. `writeMessage`
    /// writes the message bytes. Into `incoming`, or `maildrop` for an ordinary user.
    public func enqueue(_ envelope: QueueFile, into state: State = .incoming,
                        writeMessage: (inout FileSink) throws -> Void) throws -> String {
        var envelope = envelope
        for r in envelope.recipients {
            guard QueueFile.isSafe(r.address), QueueFile.isSafe(r.notify ?? "", word: true),
                  QueueFile.isSafe(r.originalRecipient ?? "", word: true) else {
                throw DeliveryStatus(.init(5, 1, 3), "bad address syntax", reason: "recipient with control characters or spaces in DSN fields")
            }
        }
        guard QueueFile.isSafe(envelope.sender), QueueFile.isSafe(envelope.envid ?? "", word: true) else {
            throw DeliveryStatus(.init(5, 1, 7), "bad sender address syntax", reason: "sender with control characters")
        }
        envelope.messageSize = 0
        for _ in 0..<100 {
            let id = Self.newID()
            if Posix.exists(path(.deferred, id)) || Posix.exists(path(.hold, id)) { continue }
            let temporary = "\(directory)/\(state.rawValue)/.\(id)"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw SystemError("open", path: temporary)
            }
            do {
                defer { close(fd) }
                // The size is written as a fixed-width field and filled in once the message is written.
                var head = envelope.encodeEnvelope()
                let sizeLine = Array("size=0\n\n".utf8)
                head.removeLast(sizeLine.count)
                let sizeOffset = head.count + 5
                head += Array("size=000000000000\n\n".utf8)
                var sink = FileSink(fd: fd, path: temporary)
                try sink.write(head)
                try writeMessage(&sink)
                try sink.flush()
                let end = lseek(fd, 0, SEEK_END)
                let size = Int(end) - head.count
                let digits = String(size)
                let field = Array((String(repeating: "0", count: 12 - digits.count) + digits).utf8)
                guard field.count == 12 else { throw SystemError("write", path: temporary, errno: EFBIG) }
                let n = field.withUnsafeBytes { pwrite(fd, $0.baseAddress, 12, off_t(sizeOffset)) }
                if n != 12 { throw SystemError("pwrite", path: temporary) }
                try Posix.fsync(fd, path: temporary)
            } catch {
                unlink(temporary)
                throw error
            }
            if state == .maildrop && access("\(directory)/maildrop", R_OK) != 0 {
                // An ordinary user cannot open maildrop (1733) to fsync it: the file is fsynced,
                // the rename is as durable as the file system makes it (as Postfix's postdrop).
                if rename(temporary, path(state, id)) != 0 {
                    let e = SystemError("rename", path: path(state, id))
                    unlink(temporary)
                    throw e
                }
            } else {
                try Posix.publish(temporary, as: path(state, id))
            }
            return id
        }
        throw SystemError("open", path: "\(directory)/\(state.rawValue)", errno: EEXIST)
    }

    /// The envelope of a queue file (the message is not read).
    public func read(_ state: State, _ id: String) throws -> QueueFile {
        let p = path(state, id)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: p) }
        defer { close(fd) }
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try Posix.read(fd, into: $0) }
            if n == 0 { break }
            head += chunk[0..<n]
            if head.contains(10) && (head.firstRange(of: [10, 10]) != nil) { break }
            if head.count > QueueFile.envelopeLimit { break }
        }
        return try QueueFile.decode(head)
    }

    /// Marks a recipient done in place (one byte). With `sync`, fsyncs too; without, the mark
    /// survives a crash of mdad (it is in the kernel) but not of the machine, as Postfix's marks:
    /// the queue manager fsyncs once when the message stays queued (``sync(_:_:)``).
    public func markDone(_ state: State, _ id: String, _ recipient: QueueFile.Recipient, sync: Bool = true) throws {
        let p = path(state, id)
        let fd = open(p, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: p) }
        defer { close(fd) }
        var d: UInt8 = UInt8(ascii: "D")
        if pwrite(fd, &d, 1, off_t(recipient.stateOffset)) != 1 { throw SystemError("pwrite", path: p) }
        if sync { try Posix.fsync(fd, path: p) }
    }

    /// fsyncs a queue file (the done marks written without it).
    public func sync(_ state: State, _ id: String) throws {
        let p = path(state, id)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: p) }
        defer { close(fd) }
        try Posix.fsync(fd, path: p)
    }

    /// Moves a file between states; false when it was not there (another process took it).
    @discardableResult
    public func move(_ id: String, from: State, to: State) throws -> Bool {
        if rename(path(from, id), path(to, id)) == 0 { return true }
        if errno == ENOENT { return false }
        throw SystemError("rename", path: path(from, id))
    }

    /// Moves a file to `deferred` with its next try at `next` (the file's mtime).
    public func deferUntil(_ id: String, from: State, next: Int) throws {
        var times = [timespec(tv_sec: time_t(next), tv_nsec: 0), timespec(tv_sec: time_t(next), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path(from, id), &times, 0)
        try move(id, from: from, to: .deferred)
    }

    /// Removes a message and its deferral log.
    public func remove(_ id: String, from state: State) {
        unlink(path(state, id))
        unlink(deferLogPath(id))
    }

    /// The queue IDs in one state (files being written, `.ID`, are left out).
    public func list(_ state: State) -> [String] {
        names(in: state).filter(Self.isQueueID).sorted()
    }

    /// Every name in a state's directory.
    func names(in state: State) -> [String] {
        Posix.directoryEntries("\(directory)/\(state.rawValue)") ?? []
    }

    /// The mtime of a queue file (for deferred: when it is next due), or nil.
    public func modificationTime(_ state: State, _ id: String) -> Int? {
        var st = stat()
        guard stat(path(state, id), &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec)
    }

    public func fileSize(_ state: State, _ id: String) -> Int? {
        var st = stat()
        guard stat(path(state, id), &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// After a crash: what was being delivered goes back to incoming (as Postfix's qmgr does at
    /// start-up), and half-written files (never acknowledged) are removed.
    public func recover() -> Int {
        var moved = 0
        for id in list(.active) where (try? move(id, from: .active, to: .incoming)) == true { moved += 1 }
        for state in [State.incoming, .maildrop] {
            let stale = names(in: state).filter { $0.hasPrefix(".") && $0.count > 2 && Self.isQueueID(String($0.dropFirst())) }
            // Only the queue manager runs this, at start-up; a writer still busy (mdad sendmail)
            // keeps its file for an hour.
            let now = Int(time(nil))
            for name in stale {
                var st = stat()
                let p = "\(directory)/\(state.rawValue)/\(name)"
                if stat(p, &st) == 0, now - Int(st.st_mtim.tv_sec) > 3600 { unlink(p) }
            }
        }
        return moved
    }

    // MARK: the deferral log

    /// One line per recipient still pending: `address TAB dsn TAB reason`.
    public struct DeferEntry: Sendable, Equatable {
        public var address: String
        public var status: EnhancedStatus
        public var reason: String
        public init(address: String, status: EnhancedStatus, reason: String) {
            self.address = address
            self.status = status
            self.reason = reason
        }
    }

    /// The log, and whether the sender was sent the delay notice (a first line `#warned`).
    public func writeDeferLog(_ id: String, _ entries: [DeferEntry], warned: Bool = false) throws {
        let clean: (String) -> String = { String($0.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) }) }
        let text = (warned ? "#warned\n" : "") + entries.map { "\(clean($0.address))\t\($0.status)\t\(clean($0.reason))\n" }.joined()
        let p = deferLogPath(id), t = "\(directory)/defer/.\(id)"
        let fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemError("open", path: t) }
        do {
            defer { close(fd) }
            try Posix.writeAll(fd, Array(text.utf8), path: t)
        } catch { unlink(t); throw error }
        if rename(t, p) != 0 { throw SystemError("rename", path: p) }
    }

    /// Whether the delay notice (delay_warning_time) went out for this message.
    public func delayWarned(_ id: String) -> Bool {
        guard let bytes = try? Posix.readFile(deferLogPath(id), limit: 1 << 20) else { return false }
        return bytes.starts(with: Array("#warned\n".utf8))
    }

    public func readDeferLog(_ id: String) -> [DeferEntry] {
        guard let bytes = try? Posix.readFile(deferLogPath(id), limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, let s = EnhancedStatus(f[1]) else { return nil }
            return DeferEntry(address: String(f[0]), status: s, reason: String(f[2]))
        }
    }
}

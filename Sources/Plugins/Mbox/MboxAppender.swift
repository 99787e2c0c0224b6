#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// Appends messages to an mbox file the way Postfix's local(8) writes a mailbox, so `mail`,
/// mutt and Dovecot read it: a `From sender date` separator line, body lines that begin with
/// `From ` quoted as `>From `, LF line endings, and an empty line after each message.
///
/// Locking as Postfix's `mailbox_delivery_lock = fcntl, dotlock`: an fcntl write lock on the
/// file and a `FILE.lock` dotlock beside it (a stale dotlock older than five minutes is
/// removed; a directory the user may not write, such as a root-owned spool, means fcntl alone).
/// The append is fsynced before success; on any failure the file is truncated back to its
/// original size, so no half message stays. This is the project's one mbox appender.
public struct MboxAppender: Sendable {
    public let path: String
    public var lockTimeout: Int = 30
    public var staleLockAge: Int = 300
    /// The largest the file may grow to (Postfix's `mailbox_size_limit`), 0 for no limit.
    public var sizeLimit = 0
    /// What an append past `sizeLimit` gets.
    public var sizeExceeded = DeliveryStatus(.mailboxFull, "Mailbox full: mailbox size limit exceeded")

    public init(path: String) { self.path = path }

    enum Step: Sendable { case write, sync }

    /// Appends `message` with `prepend` fields, from `sender` (`MAILER-DAEMON` for `<>`).
    public func append(_ message: Message, prepending prepend: [HeaderField] = [], sender: String,
                       date: Timestamp = .now()) throws(DeliveryStatus) {
        try append(message, prepending: prepend, sender: sender, date: date, fault: nil)
    }

    func append(_ message: Message, prepending prepend: [HeaderField], sender: String, date: Timestamp,
                fault: (@Sendable (Step) throws -> Void)?) throws(DeliveryStatus) {
        let estimate = message.receivedSize + 128 + prepend.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 3 }
        try locked(adding: estimate, fault: fault) { fd in
            var sink = MboxSink(LineFeedNormalizer(FileSink(fd: fd, path: path)))
            let separator = "From \(sender.isEmpty ? "MAILER-DAEMON" : sender)  \(MboxAppender.ctime(date.seconds))\n"
            try sink.raw(Array(separator.utf8))
            try fault?(.write)
            try message.write(prepending: prepend, to: &sink)
            try sink.finish()
        }
    }

    /// Appends an entry its writer has already put in mbox form (procmail's folders: the
    /// message's own `From ` line, procmail's quoting and line ends), under the same locks,
    /// fsync and truncation on failure.
    public func append(entry: [UInt8]) throws(DeliveryStatus) {
        try locked(adding: entry.count, fault: nil) { fd in
            var sink = FileSink(fd: fd, path: path)
            try sink.write(entry)
            try sink.flush()
        }
    }

    /// Opens and locks the file (fcntl, then the dotlock), lets `write` append, fsyncs; on
    /// failure truncates the file back to where it was.
    /// `estimate` is about what will be appended, for `sizeLimit`.
    private func locked(adding estimate: Int, fault: (@Sendable (Step) throws -> Void)?, _ write: (Int32) throws -> Void) throws(DeliveryStatus) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw DeliveryStatus.mailbox(SystemError("open", path: path), doing: "open mailbox \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw DeliveryStatus(.mailboxTemporary, "mailbox is not a regular file", reason: "\(path) is not a regular file")
        }
        // fcntl lock, waiting up to lockTimeout seconds.
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        var waited = 0
        while fcntl(fd, F_SETLK, &lock) != 0 {
            let e = currentErrno()
            guard e == EACCES || e == EAGAIN, waited < lockTimeout * 10 else {
                throw DeliveryStatus(.mailboxTemporary, "mailbox is locked", reason: "cannot lock \(path): \(SystemError("fcntl", errno: e))")
            }
            usleep(100_000)
            waited += 1
        }
        let dotlock = try takeDotlock()
        defer { if let dotlock { unlink(dotlock) } }

        let original = lseek(fd, 0, SEEK_END)
        if sizeLimit > 0 && Int(original) + estimate > sizeLimit { throw sizeExceeded }
        do {
            try write(fd)
            try fault?(.sync)
            try Posix.fsync(fd, path: path)
        } catch {
            ftruncate(fd, original)
            _ = Glibc.fsync(fd)
            if let e = error as? SystemError { throw DeliveryStatus.mailbox(e, doing: "write mailbox \(path)") }
            throw DeliveryStatus.unexpected(error, while: "writing mailbox")
        }
    }

    /// `FILE.lock`, created exclusively; nil when the directory does not let us (fcntl only).
    func takeDotlock() throws(DeliveryStatus) -> String? {
        let lockPath = path + ".lock"
        for _ in 0..<(lockTimeout * 10) {
            let fd = open(lockPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                close(fd)
                return lockPath
            }
            let e = currentErrno()
            if e == EACCES || e == EPERM || e == EROFS { return nil }
            guard e == EEXIST else {
                throw DeliveryStatus.mailbox(SystemError("open", path: lockPath, errno: e), doing: "create \(lockPath)")
            }
            var st = stat()
            if stat(lockPath, &st) == 0, Int(time(nil)) - Int(st.st_mtim.tv_sec) > staleLockAge {
                unlink(lockPath)   // a lock left by a crashed writer
                continue
            }
            usleep(100_000)
        }
        throw DeliveryStatus(.mailboxTemporary, "mailbox is locked", reason: "\(lockPath) held for more than \(lockTimeout) s")
    }

    /// `Wed Nov 25 01:12:20 2026`, as asctime writes it (the mbox separator's date).
    static func ctime(_ seconds: Int) -> String {
        Posix.localTime(seconds, format: "%a %b %e %H:%M:%S %Y")
    }
}

let mboxFromPrefix: [UInt8] = Array("From ".utf8)

/// Quotes body lines beginning with `From ` as `>From ` (mboxo, as Postfix writes), and
/// ends the message with an empty line. Sits in front of the LF normaliser.
struct MboxSink: ByteSink {
    var inner: LineFeedNormalizer<FileSink>
    private var atLineStart = true
    private var pending: [UInt8] = []   // bytes of a line start that might be "From "
    private var lastByte: UInt8 = 10

    init(_ inner: LineFeedNormalizer<FileSink>) { self.inner = inner }

    /// Writes bytes that are not message content (the separator line).
    mutating func raw(_ bytes: [UInt8]) throws { try inner.write(bytes) }


    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        for b in bytes {
            if atLineStart || !pending.isEmpty {
                pending.append(b)
                if pending.count <= 5 && mboxFromPrefix.starts(with: pending) {
                    if pending.count == 5 {
                        out.append(UInt8(ascii: ">"))
                        out += pending
                        pending = []
                        atLineStart = false
                    } else {
                        atLineStart = false
                    }
                    continue
                }
                out += pending
                pending = []
                atLineStart = b == 10
                continue
            }
            out.append(b)
            if b == 10 { atLineStart = true }
        }
        if let l = out.last { lastByte = l }
        try out.withUnsafeBytes { try inner.write($0) }
    }

    /// Ends the message: a final newline if it had none, then the empty separator line.
    mutating func finish() throws {
        if !pending.isEmpty {
            let rest = pending
            pending = []
            try rest.withUnsafeBytes { try inner.write($0) }
            lastByte = rest.last ?? lastByte
        }
        if lastByte != 10 { try inner.write([10]) }
        try inner.write([10])
        try inner.finish()
        try inner.inner.flush()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// A dotlock as Dovecot takes one on its Maildir control files: the file `<name>.lock` beside
/// the file it protects, created with `O_EXCL` so that exactly one writer holds it. Dovecot
/// uses the same convention for `dovecot-uidlist`, `dovecot-keywords` and `subscriptions`, so
/// mdad and a running Dovecot exclude each other.
///
/// Two ways to use one, matching Dovecot's two kinds:
/// - a *pure* lock (``acquire(for:staleAfter:timeout:)`` with `writePID`): the lock file holds
///   `<pid>:<hostname>` so that another process on this host can tell a lock left by a dead
///   process, and ``release()`` unlinks it;
/// - a *replacing* lock: the new content of the protected file is written into the lock file
///   itself and ``commit()`` renames it over the file, so readers see either the old or the
///   new file and never a half-written one.
///
/// A lock is stale, and taken over, when its holder is a dead process on this host (checked
/// only once the lock is older than two seconds, as Dovecot does, since a fresh lock almost
/// certainly has a live holder), or, when the holder is unknown (another host, no PID), when
/// neither the lock nor the protected file changed for `staleAfter` seconds. Unlike Dovecot,
/// a lock carrying our own PID is *not* stale: mdad delivers from several threads of one
/// process, and each of them must wait for the others.
struct MaildirDotlock: ~Copyable {
    /// The lock file (`<file>.lock`).
    let lockPath: String
    /// The protected file.
    let filePath: String
    private var fd: Int32

    /// Takes the lock on `file`, waiting up to `timeout` seconds.
    ///
    /// - Throws: ``SystemError`` with `EAGAIN` when the lock stayed held for `timeout`, or the
    ///   error of `open(2)` (the directory is missing or not writable).
    static func acquire(for file: String, staleAfter: Int, timeout: Double, writePID: Bool,
                        mode: mode_t = 0o666) throws -> MaildirDotlock {
        let lock = file + ".lock"
        let deadline = Subprocess.monotonicSeconds() + timeout
        var wait: UInt32 = 1_000 + UInt32.random(in: 0..<2_000)
        while true {
            // 0666 and the umask: the lock (and, for a replacing lock, the new file) gets the
            // mode every other file of the mailbox owner gets.
            let fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if fd >= 0 {
                if writePID {
                    let owner = "\(getpid()):\(Posix.hostName())"
                    // Best effort, as Dovecot: an empty lock is still a lock, only without the
                    // dead-holder shortcut.
                    if (try? Posix.writeAll(fd, Array(owner.utf8), path: lock)) == nil { _ = ftruncate(fd, 0) }
                }
                return MaildirDotlock(lockPath: lock, filePath: file, fd: fd)
            }
            let err = currentErrno()
            guard err == EEXIST else { throw SystemError("open", path: lock, errno: err) }
            if isStale(lock: lock, file: file, staleAfter: staleAfter) {
                unlink(lock)
                continue
            }
            if Subprocess.monotonicSeconds() >= deadline { throw SystemError("dotlock", path: lock, errno: EAGAIN) }
            // Holders keep these locks for milliseconds; poll quickly at first, then back off.
            usleep(wait)
            wait = min(wait + wait / 2, 100_000)
        }
    }

    private init(lockPath: String, filePath: String, fd: Int32) {
        self.lockPath = lockPath
        self.filePath = filePath
        self.fd = fd
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(lockPath)
        }
    }

    /// Replaces the lock file's content with `bytes` (a replacing lock).
    func write(_ bytes: [UInt8]) throws {
        if ftruncate(fd, 0) != 0 { throw SystemError("ftruncate", path: lockPath) }
        if lseek(fd, 0, SEEK_SET) < 0 { throw SystemError("lseek", path: lockPath) }
        try Posix.writeAll(fd, bytes, path: lockPath)
    }

    /// Sets the lock file's modification time (Dovecot notices a changed `dovecot-keywords`
    /// by its mtime, in whole seconds).
    func setModificationTime(seconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        if futimens(fd, &times) != 0 { throw SystemError("futimens", path: lockPath) }
    }

    /// A replacing lock's end: fsync the new content, rename it over the protected file and
    /// fsync the directory, so the change survives a crash once this returns.
    consuming func commit() throws {
        let fd = self.fd
        self.fd = -1
        defer { close(fd) }
        do {
            try Posix.fsync(fd, path: lockPath)
            if rename(lockPath, filePath) != 0 { throw SystemError("rename", path: filePath) }
        } catch {
            unlink(lockPath)
            throw error
        }
        try Posix.fsyncDirectory(Self.directory(of: filePath))
    }

    /// A pure lock's end (or a replacing lock given up): remove the lock file.
    consuming func release() {
        let fd = self.fd
        self.fd = -1
        close(fd)
        unlink(lockPath)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Dovecot's rule for taking over a lock, without its NFS cache flushes: a lock whose
    /// holder on this host is known is stale exactly when that process is gone; any other
    /// lock when nothing changed for `staleAfter` seconds.
    static func isStale(lock: String, file: String, staleAfter: Int) -> Bool {
        var st = stat()
        guard lstat(lock, &st) == 0 else { return false }   // gone: simply try again
        let now = time(nil)
        if st.st_mtim.tv_sec < now - 2, let pid = localHolder(lock) {
            // Our own PID is another thread of this process (or, after PID reuse, a lock a
            // dead process left: the delivery then times out and is retried by a new process).
            if pid == getpid() { return false }
            return kill(pid, 0) != 0 && currentErrno() == ESRCH
        }
        var lastChange = max(st.st_mtim.tv_sec, st.st_ctim.tv_sec)
        var fileStat = stat()
        if stat(file, &fileStat) == 0 { lastChange = max(lastChange, fileStat.st_mtim.tv_sec) }
        return now > lastChange + staleAfter
    }

    /// The PID in a lock written as `<pid>:<host>` by a process on this host.
    static func localHolder(_ lock: String) -> pid_t? {
        guard let bytes = try? Posix.readFile(lock, limit: 512) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        guard let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...] == Posix.hostName(),
              let pid = pid_t(text[..<colon]), pid > 0 else { return nil }
        return pid
    }

}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// A Maildir as qmail defines it and Dovecot uses it, with Maildir++ folders.
///
/// Delivery writes the message into `tmp/` under a unique name, fsyncs the file, links it into
/// `new/` (or `cur/` when it carries flags) and fsyncs that directory; only then has the
/// message been delivered. A failure at any step removes what was written: nothing is left in
/// `new/` and no temporary file stays behind. A reader never sees a half-written message,
/// because nothing appears in `new/` before it is complete.
///
/// A message stored with flags goes to `cur/` with the info part `:2,` and one letter per flag
/// in ASCII order: the system flags as the Maildir specification names them (`D`raft,
/// `F`lagged, `R`eplied = \\Answered, `S`een, `T`rashed = \\Deleted) and IMAP keywords as the
/// lowercase letters Dovecot's `dovecot-keywords` file assigns (``MaildirKeywords``).
/// Folders are Maildir++ folders (``MaildirFolderName``); a folder mdad creates gets the
/// `maildirfolder` marker and is added to the `subscriptions` file
/// (``MaildirSubscriptions``).
///
/// Files are created with mode 0666 and directories with 0777, and the process umask takes
/// away what the mailbox owner does not want to share: mdad runs as the mailbox owner (with
/// the owner's umask, inherited from Postfix's `local(8)` or set by an administrator's
/// wrapper), and this is how the owner's own mail programs, qmail and Dovecot (whose modes
/// follow the mailbox's) behave, so a group-shared Maildir stays group-readable and a
/// private one stays private. A fixed 0600/0700 would silently break shared mailboxes; a
/// fixed 0644 would expose private mail. An administrator who wants another mode sets the
/// umask where mdad is started (a wrapper around `mailbox_command`, the LMTP service's unit).
public struct Maildir: Sendable {
    /// The Maildir's root (the INBOX), without a trailing slash.
    public let path: String
    /// The host name used in file names (`myhostname`).
    public let hostName: String
    /// How writes are made durable (`maildir_sync`).
    public let sync: MaildirSync
    /// The Maildir++ quota to keep, if any (checked before a write, recorded after it).
    public var quota: MaildirQuota?
    /// The largest single message (Postfix's `mailbox_size_limit`), 0 for none.
    public var messageSizeLimit = 0
    /// What a delivery over either limit gets.
    public var quotaExceeded = DeliveryStatus(.mailboxFull, "Mailbox full: quota exceeded")

    public init(path: String, hostName: String, sync: MaildirSync = .always) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
        self.hostName = hostName
        self.sync = sync
    }

    /// The steps of a delivery, for fault injection in tests.
    enum Step: Sendable { case create, write, sync, link, directorySync }

    /// A delivered message.
    public struct Delivery: Sendable, Equatable {
        /// The file's path.
        public let path: String
        /// Bytes on disk (the `S=` field).
        public let size: Int
        /// Bytes with CRLF line endings, as IMAP counts them (the `W=` field).
        public let virtualSize: Int
        /// Keywords that were not stored: not valid IMAP keywords, or new ones in a mailbox
        /// whose 26 keyword letters are all taken.
        public var droppedKeywords: [String] = []
    }

    /// The mode new files are created with, before the umask (see the type's documentation).
    static let fileMode: mode_t = 0o666
    /// The mode new directories are created with, before the umask.
    static let directoryMode: mode_t = 0o777

    /// The directory of a folder (nil = INBOX), after validating its name.
    public func folderPath(_ folder: String?) throws(FolderNameError) -> String {
        guard let folder, let dir = try MaildirFolderName.directory(for: folder) else { return path }
        return path + "/" + dir
    }

    /// Stores a message in `folder` (nil = INBOX) with `prepend` fields on top.
    ///
    /// - Throws: ``DeliveryStatus`` — 4.x.x for every storage failure (full disk, quota,
    ///   permissions), so the MTA tries again.
    public func deliver(_ message: Message, prepending prepend: [HeaderField] = [], folder: String? = nil,
                        flags: [String] = []) throws -> Delivery {
        try deliver(message, prepending: prepend, folder: folder, flags: flags, fault: nil)
    }

    func deliver(_ message: Message, prepending prepend: [HeaderField], folder: String?, flags: [String],
                 fault: (@Sendable (Step) throws -> Void)?) throws -> Delivery {
        let dir: String
        let levels: [String]?
        do {
            levels = try folder.flatMap(MaildirFolderName.levels(for:))
            dir = try folderPath(folder)
        } catch {
            throw DeliveryStatus(.temporaryFailure, error.description)
        }
        do {
            try ensure(dir, folderLevels: levels)
        } catch let e as SystemError {
            throw DeliveryStatus.mailbox(e, doing: "create maildir \(dir)")
        }
        MaildirTmpCleaner.cleanOnce(dir, host: hostName)
        // The info part is known before anything is written, so a keyword failure leaves
        // nothing to clean up.
        let keywords = flags.filter { !$0.hasPrefix("\\") }
        let assignment: MaildirKeywords.Assignment
        do {
            assignment = try MaildirKeywords.letters(for: keywords, in: dir)
        } catch let e as SystemError {
            throw DeliveryStatus.mailbox(e, doing: "update \(dir)/\(MaildirKeywords.fileName)")
        }
        let info = MaildirName.info(flags: flags, keywordLetters: assignment.letters)

        // Quota first, with the size the message will have (before CRLF → LF, so a little over).
        let estimate = message.receivedSize + prepend.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 3 }
        if messageSizeLimit > 0 && estimate > messageSizeLimit { throw quotaExceeded }
        if let quota {
            do {
                if try !quota.check(adding: estimate) { throw quotaExceeded }
            } catch let s as DeliveryStatus {
                throw s
            } catch let e as SystemError {
                throw DeliveryStatus.mailbox(e, doing: "read \(quota.root)/maildirsize")
            }
        }

        let time = Timestamp.now()
        var attempt = 0
        var fd: Int32 = -1
        var base = ""
        var tmpPath = ""
        while true {
            base = MaildirName.base(time: time, pid: Int(getpid()), sequence: MaildirName.nextSequence(),
                                    host: hostName)
            tmpPath = dir + "/tmp/" + base
            do {
                try fault?(.create)
            } catch let e as SystemError {
                throw DeliveryStatus.mailbox(e, doing: "create \(tmpPath)")
            }
            fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, Self.fileMode)
            if fd >= 0 { break }
            let err = currentErrno()
            attempt += 1
            if err == EEXIST && attempt < 10 { continue }
            throw DeliveryStatus.mailbox(SystemError("open", path: tmpPath, errno: err), doing: "create a file in tmp/")
        }

        var linked: String?
        do {
            var sink = LineFeedNormalizer(CRLFCounter(FileSink(fd: fd, path: tmpPath)))
            try fault?(.write)
            try message.write(prepending: prepend, to: &sink)
            try sink.finish()
            try sink.inner.inner.flush()
            try fault?(.sync)
            switch sync {
            case .always: try Posix.fsync(fd, path: tmpPath)
            case .group(let group): try group.sync(fd, path: tmpPath)
            case .none: break
            }
            let closeResult = close(fd)
            fd = -1
            if closeResult != 0 { throw SystemError("close", path: tmpPath) }

            let size = sink.bytesWritten
            // Dovecot's rule (see CRLFCounter): an LF already preceded by CR gains nothing.
            let virtualSize = size + sink.lineFeeds - sink.inner.pairs
            let subdir = info.isEmpty ? "/new/" : "/cur/"
            let final = dir + subdir + base + ",S=\(size),W=\(virtualSize)" + info
            try fault?(.link)
            try MaildirName.publish(tmpPath, as: final)
            linked = final
            try fault?(.directorySync)
            switch sync {
            case .always: try Posix.fsyncDirectory(dir + subdir)
            case .group(let group):
                let dfd = open(dir + subdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dfd < 0 { throw SystemError("open", path: dir + subdir) }
                defer { close(dfd) }
                try group.sync(dfd, path: dir + subdir)
            case .none: break
            }
            // The message is delivered; a quota file that cannot be updated is rebuilt later.
            try? quota?.record(size: size)
            return Delivery(path: final, size: size, virtualSize: virtualSize, droppedKeywords: assignment.dropped)
        } catch {
            if fd >= 0 { close(fd) }
            unlink(tmpPath)
            if let linked { unlink(linked) }
            if let e = error as? SystemError { throw DeliveryStatus.mailbox(e, doing: "write \(tmpPath)") }
            if let s = error as? DeliveryStatus { throw s }
            throw DeliveryStatus.unexpected(error, while: "writing to maildir")
        }
    }

    /// Creates the Maildir (and a folder's) `cur`, `new` and `tmp` when missing; for a folder
    /// (`folderLevels` not nil) then subscribes it and creates the `maildirfolder` marker
    /// Maildir++ readers expect, in that order: the marker comes last, so a folder whose
    /// set-up was interrupted (a crash, a subscriptions lock that timed out) is finished by the
    /// next delivery instead of staying unsubscribed. A folder that has its marker is left as
    /// it is, so a folder the user unsubscribed in IMAP stays unsubscribed.
    func ensure(_ dir: String, folderLevels: [String]?) throws {
        let complete = Posix.isDirectory(dir + "/tmp") && Posix.isDirectory(dir + "/new")
            && Posix.isDirectory(dir + "/cur")
        guard let folderLevels else {
            if complete { return }
            try makeParents(dir)
            try makeMaildirDirectories(dir)
            return
        }
        let marker = dir + "/maildirfolder"
        if complete && Posix.exists(marker) { return }
        try ensure(path, folderLevels: nil)
        try makeMaildirDirectories(dir)
        try MaildirSubscriptions.subscribe(levels: folderLevels, root: path)
        let fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, Self.fileMode)
        if fd < 0 { throw SystemError("open", path: marker) }
        close(fd)
    }

    private func makeMaildirDirectories(_ dir: String) throws {
        try Posix.makeDirectory(dir, mode: Self.directoryMode)
        for sub in ["tmp", "new", "cur"] { try Posix.makeDirectory(dir + "/" + sub, mode: Self.directoryMode) }
    }

    private func makeParents(_ dir: String) throws {
        var prefix = ""
        let parts = dir.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        for part in parts {
            prefix += "/" + part
            if !Posix.isDirectory(prefix) { try Posix.makeDirectory(prefix, mode: Self.directoryMode) }
        }
    }
}

/// How a Maildir delivery is made durable before it counts as delivered (`maildir_sync`).
public enum MaildirSync: Sendable {
    /// fsync the file, then fsync `new/` after the link: the qmail/Dovecot sequence.
    case always
    /// The same promise through group commit: concurrent deliveries share `syncfs` flushes
    /// (the LMTP server, many deliveries at once).
    case group(GroupSync)
    /// No flush at all: NOT durable; for measuring the ceiling in benchmarks only.
    case none

    /// From `maildir_sync` (always, group, none).
    public static func named(_ name: String, group: GroupSync?) -> MaildirSync? {
        switch name.lowercased() {
        case "always": return .always
        case "group": return group.map { .group($0) } ?? .always
        case "none": return MaildirSync.none
        default: return nil
        }
    }
}

/// Maildir file names, as Dovecot writes them:
/// `<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>[:2,<flags>]`.
enum MaildirName {
    private static let counter = SequenceCounter()

    static func nextSequence() -> Int { counter.next() }

    /// qmail's rule: `/` and `:` in the host name are written as `\057` and `\072`.
    static func base(time: Timestamp, pid: Int, sequence: Int, host: String) -> String {
        "\(time.seconds).M\(time.microseconds)P\(pid)Q\(sequence).\(safeHost(host))"
    }

    static func safeHost(_ host: String) -> String {
        host.replacingAll("/", with: "\\057").replacingAll(":", with: "\\072")
    }

    /// The `:2,` info suffix: the letters of the IMAP system flags and of the keywords, in
    /// ASCII order ("Flags must be stored in ASCII order", cr.yp.to/proto/maildir.html), so
    /// the uppercase system flags come first. Unknown system flags (`\Recent` is the
    /// server's to set) are left out.
    static func info(flags: [String], keywordLetters: [Character] = []) -> String {
        if flags.isEmpty && keywordLetters.isEmpty { return "" }
        var chars: [Character] = []
        for flag in flags {
            let letter: Character? = switch flag.lowercased() {
            case "\\draft": "D"
            case "\\flagged": "F"
            case "\\answered": "R"
            case "\\seen": "S"
            case "\\deleted": "T"
            default: nil
            }
            if let letter, !chars.contains(letter) { chars.append(letter) }
        }
        for k in keywordLetters where !chars.contains(k) { chars.append(k) }
        guard !chars.isEmpty else { return "" }
        return ":2," + String(chars.sorted())
    }

    /// Moves a finished file from tmp/ to its final name without ever replacing an existing
    /// file: link(2) fails if the name exists (qmail's method). Filesystems without hard
    /// links fall back to rename(2), after checking the name is free.
    static func publish(_ tmp: String, as final: String) throws {
        if link(tmp, final) == 0 {
            unlink(tmp)
            return
        }
        let err = currentErrno()
        switch err {
        case EPERM, EXDEV, EMLINK, ENOTSUP, ENOSYS:
            if Posix.exists(final) { throw SystemError("rename", path: final, errno: EEXIST) }
            if rename(tmp, final) != 0 { throw SystemError("rename", path: final) }
        default:
            throw SystemError("link", path: final, errno: err)
        }
    }

    final class SequenceCounter: @unchecked Sendable {
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func next() -> Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            value += 1
            return value
        }
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

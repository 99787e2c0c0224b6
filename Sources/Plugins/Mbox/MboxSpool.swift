#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Creating a user's mbox in the mail spool (`/var/mail/USER`), which users cannot create
/// themselves: the spool directory belongs to root and group mail (mode 2775 on Debian).
///
/// While still root, before switching to the user, the file is created exclusively (never
/// following a symlink), owned by the user and the spool directory's group, mode 0600, as
/// Postfix's local(8) leaves it. An existing file is left to the mailbox safety checks.
public enum MboxSpool {
    public static func prepare(_ path: String, uid: uid_t, gid: gid_t) throws(DeliveryStatus) {
        guard geteuid() == 0, !Posix.exists(path) else { return }
        guard let slash = path.lastIndex(of: "/") else { return }
        let dir = slash == path.startIndex ? "/" : String(path[..<slash])
        var st = stat()
        guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw DeliveryStatus(.temporaryFailure, "mail spool directory is missing", reason: "\(dir): no such directory")
        }
        // The spool's group when the directory hands it down (setgid), else the user's.
        let group = (st.st_mode & S_ISGID) != 0 ? st.st_gid : gid
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            if currentErrno() == EEXIST { return }
            throw DeliveryStatus.mailbox(SystemError("open", path: path), doing: "create mailbox \(path)")
        }
        defer { close(fd) }
        if fchown(fd, uid, group) != 0 || fchmod(fd, 0o600) != 0 {
            let e = SystemError("fchown", path: path)
            unlink(path)
            throw DeliveryStatus.mailbox(e, doing: "give mailbox \(path) to uid \(uid)")
        }
    }
}

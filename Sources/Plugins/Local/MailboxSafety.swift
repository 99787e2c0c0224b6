#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// The checks Postfix's local(8) makes before it writes a mailbox (`strict_mailbox_ownership`):
/// a mailbox that is a symbolic link, belongs to someone other than the user writing it, or
/// is writable by everyone is not delivered to. Each refusal is temporary (4.2.0) with the
/// reason in the log, so the mail waits in the queue while the administrator looks.
public enum MailboxSafety {
    /// Checks an existing mailbox path (a Maildir directory or an mbox file); a path that does
    /// not exist yet is fine, it will be created by its owner.
    public static func check(_ path: String) throws(DeliveryStatus) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFLNK {
            throw DeliveryStatus(.mailboxTemporary, "mailbox is a symbolic link",
                                 reason: "refusing to deliver to \(path): it is a symbolic link")
        }
        // The thread's file-system identity: the user's while the daemon writes for them.
        let writer = FSIdentity.currentUID
        if st.st_uid != writer {
            throw DeliveryStatus(.mailboxTemporary, "mailbox belongs to another user",
                                 reason: "refusing to deliver to \(path): owned by uid \(st.st_uid), delivering as uid \(writer)")
        }
        if st.st_mode & 0o002 != 0 {
            throw DeliveryStatus(.mailboxTemporary, "mailbox is world-writable",
                                 reason: "refusing to deliver to \(path): it is writable by everyone (mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
    }
}

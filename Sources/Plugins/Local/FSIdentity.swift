#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Pipeline

/// Writing as a user from a multi-threaded root daemon, without a process per delivery.
///
/// Linux keeps the file-system identity (fsuid, fsgid) and the supplementary groups per
/// thread when they are changed with the raw system calls, and a thread whose fsuid is not 0
/// loses the file capabilities (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER …): its file accesses
/// are checked as the user's, and what it creates belongs to the user. So the delivery thread
/// switches to the mailbox owner, writes, and switches back before it runs anything else; no
/// other thread is affected. Commands run in a child that becomes the user entirely
/// (``Subprocess/Identity``), since a program must not run with root's other privileges.
public enum FSIdentity {
    public struct SwitchFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The calling thread's file-system uid: the identity its file accesses are checked as
    /// (the effective uid unless ``perform(uid:gid:_:)`` switched it).
    public static var currentUID: uid_t { uid_t(bitPattern: mdad_setfsuid(UInt32.max)) }

    /// Root's own supplementary groups, restored after each switch.
    static let rootGroups: [UInt32] = {
        let n = getgroups(0, nil)
        guard n > 0 else { return [] }
        var list = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &list)
        return got > 0 ? Array(list.prefix(Int(got))).map { UInt32($0) } : []
    }()

    /// Runs `body` on this thread as `uid`/`gid` for file access, then switches back. Only
    /// for a root process; `body` must not suspend (it runs start to end on this thread).
    public static func perform<T>(uid: uid_t, gid: gid_t, _ body: () throws -> T) throws -> T {
        let groups = rootGroups
        var target = [UInt32(gid)]
        guard mdad_thread_setgroups(1, &target) == 0 else {
            throw SwitchFailed(description: "setgroups(\(gid)): \(SystemError("setgroups"))")
        }
        _ = mdad_setfsgid(UInt32(gid))
        _ = mdad_setfsuid(UInt32(uid))
        defer {
            _ = mdad_setfsuid(0)
            _ = mdad_setfsgid(0)
            var back = groups
            _ = mdad_thread_setgroups(Int32(back.count), &back)
        }
        // setfsuid reports no error: read the identity back.
        guard mdad_setfsuid(UInt32.max) == Int32(bitPattern: UInt32(uid)), mdad_setfsgid(UInt32.max) == Int32(bitPattern: UInt32(gid)) else {
            throw SwitchFailed(description: "setfsuid(\(uid))/setfsgid(\(gid)) did not take effect")
        }
        return try body()
    }
}

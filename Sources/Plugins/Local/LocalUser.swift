#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// A user from the passwd database.
public struct LocalUser: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var home: String

    public init(name: String, uid: uid_t, gid: gid_t, home: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
    }

    /// Looks a user up by name; nil when there is no such user.
    /// - Throws: ``SystemError`` when the passwd database cannot be read (a temporary failure).
    public static func lookup(name: String) throws -> LocalUser? {
        guard !name.isEmpty, !name.contains("\0") else { return nil }
        return try withPasswd { pwd, buf, n, result in getpwnam_r(name, &pwd, buf, n, &result) }
    }

    public static func lookup(uid: uid_t) throws -> LocalUser? {
        try withPasswd { pwd, buf, n, result in getpwuid_r(uid, &pwd, buf, n, &result) }
    }

    private static func withPasswd(
        _ call: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) throws -> LocalUser? {
        var pwd = passwd()
        var buffer = [CChar](repeating: 0, count: 16384)
        var result: UnsafeMutablePointer<passwd>?
        let rc = buffer.withUnsafeMutableBufferPointer { call(&pwd, $0.baseAddress!, $0.count, &result) }
        if rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM {
            throw SystemError("getpwnam", errno: rc)
        }
        guard let entry = result?.pointee else { return nil }
        return LocalUser(name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid,
                         home: String(cString: entry.pw_dir))
    }

    /// When running as root, becomes this user (supplementary groups, group, then user) so that
    /// everything written belongs to the user and no other user's files can be touched.
    public func becomeUser() throws {
        try LocalUser.become(uid: uid, gid: gid, name: name)
    }

    /// When running as root, becomes `uid`/`gid` for good: supplementary groups from the user
    /// database when there is a user name (none for a virtual mailbox's numeric IDs), then
    /// group, then user; then checks that root cannot be regained.
    public static func become(uid: uid_t, gid: gid_t, name: String?) throws {
        guard geteuid() == 0, uid != 0 else { return }
        if let name {
            if initgroups(name, gid) != 0 { throw SystemError("initgroups") }
        } else {
            if setgroups(0, nil) != 0 { throw SystemError("setgroups") }
        }
        if setgid(gid) != 0 { throw SystemError("setgid") }
        if setuid(uid) != 0 { throw SystemError("setuid") }
        if setuid(0) == 0 { throw SystemError("setuid", errno: EPERM) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline
@testable import Plugins

@Suite("Maildir tmp/ leftovers")
struct MaildirTmpCleanerTests {
    static func deadPID() -> Int32 {
        var pid: Int32 = 4_000_000
        while kill(pid, 0) == 0 || currentErrno() != ESRCH { pid -= 1 }
        return pid
    }

    @Test func leftoversOfDeadWritersOnThisHostAndOldFilesGoOthersStay() throws {
        let dir = TempDir()
        let tmp = dir.path + "/tmp"
        mkdir(tmp, 0o700)
        let dead = Self.deadPID()
        let files = [
            "ours-dead": "1700000000.M1P\(dead)Q1.mx.example.test",
            "ours-alive": "1700000000.M1P\(getpid() == 1 ? 2 : 1)Q1.mx.example.test",
            "ours-self": "1700000000.M1P\(getpid())Q1.mx.example.test",
            "other-host-dead": "1700000000.M1P\(dead)Q1.other.example",
            "old": "1600000000.M1P1Q1.other.example",
            "not-a-maildir-name": "random",
        ]
        for name in files.values {
            let fd = open(tmp + "/" + name, O_WRONLY | O_CREAT, 0o600)
            close(fd)
        }
        var times = [timespec(tv_sec: 1_000, tv_nsec: 0), timespec(tv_sec: 1_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, tmp + "/" + files["old"]!, &times, 0)
        let removed = MaildirTmpCleaner.clean(tmp, host: "mx.example.test", now: Int(time(nil)))
        #expect(Set(removed) == [files["ours-dead"]!, files["old"]!])
        #expect(Set(dir.list(tmp)) == Set(files.values).subtracting(removed))
    }

    @Test func aDeliveryCleansItsFolderOncePerProcess() throws {
        let dir = TempDir()
        let maildir = Maildir(path: dir.path + "/Maildir", hostName: "h.example")
        _ = try maildir.deliver(try Message.literal("Subject: a\n\nb\n"))
        let leftover = "1700000000.M1P\(Self.deadPID())Q9.h.example"
        close(open(maildir.path + "/tmp/" + leftover, O_WRONLY | O_CREAT, 0o600))
        // Already cleaned once by this process: the next delivery leaves it (a restart would not).
        _ = try maildir.deliver(try Message.literal("Subject: a\n\nb\n"))
        #expect(dir.list(maildir.path + "/tmp") == [leftover])
        let other = Maildir(path: dir.path + "/Other", hostName: "h.example")
        try Posix.makeDirectory(other.path, mode: 0o700)
        for sub in ["tmp", "new", "cur"] { try Posix.makeDirectory(other.path + "/" + sub, mode: 0o700) }
        close(open(other.path + "/tmp/" + leftover, O_WRONLY | O_CREAT, 0o600))
        _ = try other.deliver(try Message.literal("Subject: a\n\nb\n"))
        #expect(dir.list(other.path + "/tmp").isEmpty, "the first delivery into a folder removes a dead writer's file")
    }
}

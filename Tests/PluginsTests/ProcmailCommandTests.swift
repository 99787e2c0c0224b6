#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline
@testable import Plugins

@Suite("mdad procmail command line")
struct ProcmailCommandTests {
    @Test func procmailsOwnOptions() throws {
        let o = try ProcmailCommand.parse(["-ptf", "alice@example.org", "-a", "ext", "VERBOSE=on", "/etc/rc1", "rc2"])
        #expect(o.preserveEnvironment && o.failSoftly && !o.mailFilter)
        #expect(o.sender == "alice@example.org" && o.arguments == ["ext"])
        #expect(o.assignments.map { "\($0.0)=\($0.1)" } == ["VERBOSE=on"])
        #expect(o.rcFiles == ["/etc/rc1", "rc2"])

        let m = try ProcmailCommand.parse(["-m", "DEFAULT=/x", "/etc/filter.rc", "one", "two=2"])
        #expect(m.mailFilter && m.rcFiles == ["/etc/filter.rc"] && m.arguments == ["one", "two=2"])
        #expect(m.assignments.map { "\($0.0)=\($0.1)" } == ["DEFAULT=/x"])

        let d = try ProcmailCommand.parse(["-fbounce@x", "-d", "bob"])
        #expect(d.sender == "bounce@x" && d.deliverTo == "bob")
    }

    @Test func usageErrors() {
        #expect(throws: ProcmailCommand.UsageError.self) { try ProcmailCommand.parse(["-m"]) }
        #expect(throws: ProcmailCommand.UsageError.self) { try ProcmailCommand.parse(["-q"]) }
        #expect(throws: ProcmailCommand.UsageError.self) { try ProcmailCommand.parse(["-f"]) }
        #expect(throws: ProcmailCommand.UsageError.self) { try ProcmailCommand.parse(["-m", "-d", "bob", "rc"]) }
    }

    @Test func suspiciousRcFilesAreNotRun() throws {
        let dir = TempDir()
        chmod(dir.path, 0o755)
        let rc = dir.path + "/rc"
        let fd = open(rc, O_WRONLY | O_CREAT, 0o644)
        close(fd)
        let me = LocalUser(name: "me", uid: geteuid(), gid: getegid(), home: dir.path)
        #expect(ProcmailCommand.suspicious(rc, user: me) == nil)
        chmod(rc, 0o666)
        #expect(ProcmailCommand.suspicious(rc, user: me) == "writable by anyone")
        chmod(rc, 0o644)
        chmod(dir.path, 0o777)
        #expect(ProcmailCommand.suspicious(rc, user: me) == "its directory is writable by anyone")
        chmod(dir.path, 0o1777)
        #expect(ProcmailCommand.suspicious(rc, user: me) == nil, "a sticky directory like /tmp is fine")
        chmod(dir.path, 0o755)
        let other = LocalUser(name: "other", uid: 4242, gid: 4242, home: dir.path)
        if geteuid() != 0 {
            #expect(ProcmailCommand.suspicious(rc, user: other) != nil)
        } else {
            #expect(ProcmailCommand.suspicious(rc, user: other) == nil, "root's files are trusted")
        }
    }

    @Test func comsatSettingsAsProcmailReadsThem() {
        #expect(ProcmailComsat.port("4000@127.0.0.1") == 4000)
        #expect(ProcmailComsat.port("4000@") == 4000)
        #expect(ProcmailComsat.port("4000@localhost") == 4000)
        #expect(ProcmailComsat.port("4000@mail.example.org") == nil, "127.0.0.1 only")
        for off in ["no", "off", "0", "n", "false", " no"] { #expect(ProcmailComsat.port(off) == nil, "\(off)") }
        for on in ["", "yes", "on", "1"] { #expect(ProcmailComsat.isOn(on), "\(on)") }
        #expect(ProcmailComsat.payload(logName: "bob", offset: 120, folder: "inbox", maildir: "/home/bob/Mail") == "bob@120:/home/bob/Mail/inbox")
        #expect(ProcmailComsat.payload(logName: "bob", offset: -1, folder: " formail -r", maildir: "/m") == "bob@:/m/ formail -r")
    }

    @Test func dashZIsAcceptedAsAFlag() throws {
        let o = try ProcmailCommand.parse(["-z", "-f", "a@b"])
        #expect(o.lmtp && o.sender == "a@b")
    }
}

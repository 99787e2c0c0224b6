#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

@Suite("actions beyond the mailbox")
struct ActionContextTests {
    static let message = "From: a@example.org\nSubject: hi\n\nbody line\n"

    func context(_ dir: TempDir, sendmail: String? = nil, timeout: Double = 20) throws -> ActionContext {
        let path = sendmail ?? "/bin/false"
        return ActionContext(outbound: try SendmailTransport(sendmailPath: path), sender: "s@example.org",
                             hostName: "h.example", user: LocalUser(name: "alice", uid: getuid(), gid: getgid(), home: dir.path),
                             commandTimeout: timeout, recipientDelimiter: "+")
    }

    func write(_ path: String, _ text: String, mode: mode_t = 0o755) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        chmod(path, mode)
    }

    @Test func pipeGetsTheMessageAndPostfixsEnvironment() throws {
        let dir = TempDir()
        let ctx = try context(dir)
        var r = Recipient(address: "alice+news@example.org", originalAddress: "list@example.org")
        r.headerAdditions = [try HeaderField(name: "Delivered-To", value: "alice+news@example.org")]
        let out = dir.path + "/out"
        let text = try ctx.carryOut(.pipe(command: "cat > \(out); env | sort > \(out).env; pwd > \(out).pwd"), for: r,
                                    message: try Message.literal(Self.message))
        #expect(text.hasPrefix("delivered to command: "))
        #expect(String(decoding: try dir.read(out), as: UTF8.self) == "Delivered-To: alice+news@example.org\n" + Self.message)
        let env = String(decoding: try dir.read(out + ".env"), as: UTF8.self).split(separator: "\n").map(String.init)
        for expected in ["SENDER=s@example.org", "RECIPIENT=alice+news@example.org", "ORIGINAL_RECIPIENT=list@example.org",
                         "LOCAL=alice+news", "DOMAIN=example.org", "EXTENSION=news", "USER=alice", "HOME=\(dir.path)"] {
            #expect(env.contains(expected), "missing \(expected) in \(env)")
        }
        #expect(!env.contains { $0.hasPrefix("MDAD_") }, "nothing of mdad's own environment leaks")
        #expect(String(decoding: try dir.read(out + ".pwd"), as: UTF8.self) == dir.path + "\n")
    }

    @Test(arguments: [(Int32(75), "4.3.0"), (67, "5.1.1"), (1, "5.3.0"), (78, "5.3.5")])
    func pipeExitCodesMapAsPostfixsSysExits(code: Int32, status: String) throws {
        let dir = TempDir()
        let r = Recipient(address: "alice@example.org")
        do {
            _ = try context(dir).carryOut(.pipe(command: "cat >/dev/null; exit \(code)"), for: r, message: try Message.literal(Self.message))
            Issue.record("exit \(code) must fail")
        } catch let s as DeliveryStatus {
            #expect(s.status.description == status)
            #expect(s.text.contains("Command died with status \(code)"))
        }
    }

    @Test func commandOutputWithAnEnhancedStatusCodeGivesThatCode() throws {
        let dir = TempDir()
        do {
            _ = try context(dir).carryOut(.pipe(command: "echo '5.2.2 mailbox full'; exit 1"), for: Recipient(address: "a@x"),
                                          message: try Message.literal(Self.message))
            Issue.record("must fail")
        } catch let s as DeliveryStatus {
            #expect(s.status.description == "5.2.2")
            #expect(s.text.contains("mailbox full"))
        }
    }

    @Test func aHangingCommandAndWhatItStartedAreKilledAndTheDeliveryDeferred() throws {
        let dir = TempDir()
        let start = Subprocess.monotonicSeconds()
        do {
            _ = try context(dir, timeout: 1).carryOut(.pipe(command: "sleep 60 & sleep 60"), for: Recipient(address: "a@x"),
                                                      message: try Message.literal(Self.message))
            Issue.record("must time out")
        } catch let s as DeliveryStatus {
            #expect(s.status.isTemporary)
            #expect(s.text.contains("time limit"))
        }
        // The background sleep held no pipe open past the kill of its process group.
        #expect(Subprocess.monotonicSeconds() - start < 10)
    }

    @Test func fileActionsWriteMboxMaildirAndMH() throws {
        let dir = TempDir()
        let ctx = try context(dir)
        let r = Recipient(address: "alice@example.org")
        let m = try Message.literal(Self.message)
        _ = try ctx.carryOut(.file(path: dir.path + "/mbox", format: .mbox), for: r, message: m)
        _ = try ctx.carryOut(.file(path: dir.path + "/md", format: .maildir), for: r, message: m)
        _ = try ctx.carryOut(.file(path: dir.path + "/mh", format: .mh), for: r, message: m)
        _ = try ctx.carryOut(.file(path: dir.path + "/mh", format: .mh), for: r, message: m)
        #expect(String(decoding: try dir.read(dir.path + "/mbox"), as: UTF8.self).hasPrefix("From s@example.org "))
        #expect(dir.list(dir.path + "/md/new").count == 1)
        #expect(dir.list(dir.path + "/mh").sorted() == ["1", "2"])
        #expect(String(decoding: try dir.read(dir.path + "/mh/2"), as: UTF8.self) == Self.message)
        // procmail's plain directory: unique names with the prefix.
        mkdir(dir.path + "/plain", 0o755)
        for _ in 0..<3 { _ = try ctx.carryOut(.file(path: dir.path + "/plain", format: .directory(prefix: "msg.")), for: r, message: m) }
        let plain = dir.list(dir.path + "/plain")
        #expect(plain.count == 3 && plain.allSatisfy { $0.hasPrefix("msg.") && $0.count == 8 }, "\(plain)")
    }

    @Test func aRootDaemonStartsCommandsAsTheUserNeverAsRoot() throws {
        let id = Subprocess.Identity(uid: 1234, gid: 99, initGroups: true)
        #expect(try id.wrap(["/bin/sh", "-c", "x"], current: 0)
                == ["/usr/bin/setpriv", "--reuid=1234", "--regid=99", "--init-groups", "--", "/bin/sh", "-c", "x"])
        let virtual = Subprocess.Identity(uid: 5000, gid: 5000, initGroups: false)
        #expect(try virtual.wrap(["/bin/true"], current: 0).contains("--clear-groups"))
        #expect(try id.wrap(["/bin/true"], current: 1234) == ["/bin/true"], "already the user")
        #expect(throws: SystemError.self) { try id.wrap(["/bin/true"], current: 1000) }
        #expect(throws: SystemError.self) { try Subprocess.Identity(uid: 0, gid: 0, initGroups: true).wrap(["/bin/true"], current: 0) }
        // Really running one (as root: as nobody; otherwise as ourselves).
        guard geteuid() == 0, let nobody = try LocalUser.lookup(name: "nobody") else { return }
        let r = try Subprocess.run(["/usr/bin/id", "-u"], environment: [],
                                   options: .init(identity: .init(uid: nobody.uid, gid: nobody.gid, initGroups: true)), input: [])
        #expect(String(decoding: r.output, as: UTF8.self) == "\(nobody.uid)\n")
    }

    @Test(arguments: ["relative/path", "/tmp/../etc/passwd", "/tmp/a\nb"])
    func badFileNamesAreRefused(path: String) throws {
        let dir = TempDir()
        #expect(throws: DeliveryStatus.self) {
            _ = try context(dir).carryOut(.file(path: path, format: .mbox), for: Recipient(address: "a@x"),
                                          message: try Message.literal(Self.message))
        }
    }

    @Test func redirectsAndRepliesGoThroughSendmailPath() throws {
        let dir = TempDir()
        let script = dir.path + "/sendmail"
        write(script, "#!/bin/sh\nn=$(ls \(dir.path)/sent* 2>/dev/null | wc -l)\necho \"$@\" > \(dir.path)/sent$n.args\ncat > \(dir.path)/sent$n.msg\n")
        let ctx = try context(dir, sendmail: script + " -oi")
        let m = try Message.literal(Self.message)
        #expect(try ctx.carryOut(.redirect(to: "bob@remote.example", sender: nil), for: Recipient(address: "a@x"), message: m)
                == "forwarded to bob@remote.example")
        _ = try ctx.carryOut(.send(OutboundMessage(sender: "", recipients: ["s@example.org"], data: Array("Subject: away\n\nback soon\n".utf8))),
                             for: Recipient(address: "a@x"), message: m)
        #expect(String(decoding: try dir.read(dir.path + "/sent0.args"), as: UTF8.self) == "-oi -i -f s@example.org -- bob@remote.example\n")
        #expect(String(decoding: try dir.read(dir.path + "/sent0.msg"), as: UTF8.self) == Self.message)
        #expect(String(decoding: try dir.read(dir.path + "/sent2.args"), as: UTF8.self) == "-oi -i -f  -- s@example.org\n")
    }

    @Test func aFailingSendmailDefersOrBouncesByItsExitCode() throws {
        let dir = TempDir()
        let script = dir.path + "/sendmail"
        write(script, "#!/bin/sh\ncat >/dev/null\nexit 75\n")
        #expect(throws: DeliveryStatus(.temporaryFailure, "cannot send mail: \(script) failed",
                                       reason: "\(script) failed (exit status 75)")) {
            _ = try context(dir, sendmail: script).carryOut(.redirect(to: "b@y", sender: nil), for: Recipient(address: "a@x"),
                                                            message: try Message.literal(Self.message))
        }
        #expect(throws: DeliveryStatus.self) {
            _ = try context(dir, sendmail: script).carryOut(.redirect(to: "-oQ/tmp/x", sender: nil), for: Recipient(address: "a@x"),
                                                            message: try Message.literal(Self.message))
        }
    }

    @Test(arguments: [RecipientAction.store(folder: "Lists.swift", flags: ["\\Seen", "$Label1"]), .store(folder: nil, flags: []),
                      .discard, .pipe(command: "procmail -a x | tee y"), .file(path: "/var/mail/x", format: .mbox),
                      .file(path: "/home/a/Mail/", format: .maildir), .file(path: "/home/a/mh", format: .mh),
                      .file(path: "/home/a/plain", format: .directory(prefix: "msg.")), .file(path: "/p", format: .directory(prefix: ""))])
    func actionsCrossTheCommandLineUnchanged(action: RecipientAction) throws {
        let encoded = try #require(ActionArgument.encode(action))
        #expect(try ActionArgument.decode(encoded) == action)
        #expect(try DeliverArguments.parse(["-A", encoded]) == .deliver({ var o = DeliverOptions(); o.actions = [action]; return o }()))
    }
}

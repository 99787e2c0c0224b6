import Foundation
import Testing

/// The fully static `mdad-deliver` that bench/build-release.sh builds and the README installs.
/// scripts/test builds it and names it in MDAD_STATIC_DELIVER; a plain `swift test` without
/// that build skips this suite.
///
/// Each test installs a copy of it in a directory of its own, next to an `mdad` that logs
/// each hand-off and runs the debug `mdad` (the dynamically linked program it hands to).
@Suite("static mdad-deliver", .enabled(if: ProcessInfo.processInfo.environment["MDAD_STATIC_DELIVER"] != nil))
struct StaticDeliverTests {
    static let sender = "alice@origin.example"
    static let message = Data("From: Alice <alice@origin.example>\nSubject: static\n\nbody line\n".utf8)

    final class Install {
        let dir: URL
        var program: String { dir.appendingPathComponent("mdad-deliver").path }
        var handOffLog: URL { dir.appendingPathComponent("handoff.log") }

        init(withDynamic: Bool = true) throws {
            guard let built = ProcessInfo.processInfo.environment["MDAD_STATIC_DELIVER"] else {
                throw SkipReason("MDAD_STATIC_DELIVER is not set")
            }
            guard FileManager.default.isExecutableFile(atPath: built) else {
                Issue.record("MDAD_STATIC_DELIVER=\(built) is not an executable: build it with bench/build-release.sh")
                throw SkipReason("no static mdad-deliver")
            }
            dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-static-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
            try FileManager.default.copyItem(atPath: built, toPath: program)
            if withDynamic {
                let wrapper = "#!/bin/sh\necho \"$*\" >> '\(handOffLog.path)'\nexec '\(MDAD.binary)' \"$@\"\n"
                let path = dir.appendingPathComponent("mdad").path
                try wrapper.write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o755)
            }
        }

        deinit { try? FileManager.default.removeItem(at: dir) }

        var handOffs: [String] {
            ((try? String(contentsOf: handOffLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    /// The message files a Maildir's new/ holds.
    static func stored(_ maildir: String) throws -> [String] {
        let new = maildir + "/new"
        return try FileManager.default.contentsOfDirectory(atPath: new).sorted().map {
            try String(contentsOfFile: new + "/" + $0, encoding: .utf8)
        }
    }

    @Test func isAFullyStaticProgram() throws {
        let install = try Install()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        p.arguments = [install.program]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("not a dynamic executable"), "\(text)")
    }

    /// Run as the recipient (Postfix's mailbox_command), the static and the dynamic program
    /// store the same bytes, and nothing is handed over.
    @Test func storesWhatTheDynamicProgramStores() throws {
        let install = try Install()
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        let env = ["USER": user.name, "HOME": home]
        let args = ["-c", box.config.path, "-f", Self.sender, "-a", "\(user.name)@mx.example.test"]
        let s = try MDAD.run(args, input: Self.message, environment: env, prefix: user.prefix, program: install.program)
        #expect(s.status == 0, "\(s.stderr)")
        let staticCopy = try Self.stored(home + "/Maildir")
        try FileManager.default.removeItem(atPath: home + "/Maildir")
        let d = try MDAD.run(["deliver"] + args, input: Self.message, environment: env, prefix: user.prefix)
        #expect(d.status == 0, "\(d.stderr)")
        let dynamicCopy = try Self.stored(home + "/Maildir")
        #expect(staticCopy.count == 1)
        #expect(staticCopy == dynamicCopy)
        #expect(staticCopy.first?.hasPrefix("Return-Path: <\(Self.sender)>\nDelivered-To: \(user.name)@mx.example.test\n") == true)
        #expect(install.handOffs.isEmpty)
    }

    /// Charsets beyond UTF-8 and Latin-1 go through glibc's iconv, which a static program loads
    /// as gconv modules: a Sieve test on a KOI8-R subject files the message as the dynamic
    /// program does.
    @Test func iconvCharsetsWorkInTheStaticProgram() throws {
        let install = try Install()
        let box = try Sandbox(mainCF: "pipeline = rules\nrules_engines = sieve\n")
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        try "require [\"fileinto\"];\nif header :contains \"subject\" \"Привет\" { fileinto \"Russian\"; }\n"
            .write(toFile: home + "/.dovecot.sieve", atomically: true, encoding: .utf8)
        chown(home + "/.dovecot.sieve", user.uid, user.gid)
        let message = Data("From: a@b.example\nSubject: =?KOI8-R?B?8NLJ18XU?=\n\nbody\n".utf8)
        let env = ["USER": user.name, "HOME": home]
        let args = ["-c", box.config.path, "-f", Self.sender, "-a", "\(user.name)@mx.example.test"]
        let s = try MDAD.run(args, input: message, environment: env, prefix: user.prefix, program: install.program)
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stderr.contains("delivered to maildir folder Russian"), "\(s.stderr)")
        let d = try MDAD.run(["deliver"] + args, input: message, environment: env, prefix: user.prefix)
        #expect(d.stderr.contains("delivered to maildir folder Russian"), "\(d.stderr)")
        #expect(try Self.stored(home + "/Maildir/.Russian").count == 2)
    }

    /// As root with -d: the user comes from /etc/passwd and its groups from /etc/group,
    /// without NSS modules (which would crash a static program).
    @Test func rootDeliversToAUserFromThePasswdFile() throws {
        let install = try Install()
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        let r = try MDAD.run(["-c", box.config.path, "-d", user.name, "-f", Self.sender], input: Self.message,
                             environment: box.environment, program: install.program)
        #expect(r.status == 0, "\(r.stderr)")
        let new = home + "/Maildir/new"
        let names = try FileManager.default.contentsOfDirectory(atPath: new)
        #expect(names.count == 1)
        var st = stat()
        #expect(stat(new + "/" + (names.first ?? ""), &st) == 0)
        #expect(st.st_uid == user.uid, "the file belongs to the user")
        #expect(install.handOffs.isEmpty)
    }

    /// A user not in /etc/passwd may still be known to NSS: the dynamic program decides, with
    /// the message still unread.
    @Test func aUserOutsideThePasswdFileIsHandedOver() throws {
        let install = try Install()
        let box = try Sandbox()
        let r = try MDAD.run(["-c", box.config.path, "-d", "nosuchuser", "-f", Self.sender], input: Self.message,
                             environment: box.environment, program: install.program)
        #expect(r.status == 67, "\(r.stderr)")
        #expect(r.firstErrorLine == "5.1.1 unknown user: \"nosuchuser\"")
        #expect(install.handOffs == ["deliver -c \(box.config.path) -d nosuchuser -f \(Self.sender)"])
    }

    /// nsswitch.conf asking for a module (ldap here): the whole delivery goes to the dynamic
    /// program before anything is read, and the message arrives whole.
    @Test func anNSSModuleHandsTheDeliveryOver() throws {
        let install = try Install()
        let box = try Sandbox()
        let conf = box.root.appendingPathComponent("nsswitch.conf")
        try "passwd: files ldap\ngroup: files\nhosts: files dns\n".write(to: conf, atomically: true, encoding: .utf8)
        let r = try MDAD.run(["-c", box.config.path, "-f", Self.sender, "-a", "bob@mx.example.test"], input: Self.message,
                             environment: box.environment.merging(["MDAD_NSSWITCH_CONF": conf.path]) { _, b in b },
                             program: install.program)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(install.handOffs.count == 1)
        let stored = try Self.stored(box.maildir.path)
        #expect(stored.count == 1)
        #expect(stored.first?.hasSuffix("Subject: static\n\nbody line\n") == true)
    }

    /// The Debian default (files, systemd, dns, db) is answered by the static program itself.
    @Test func theDebianDefaultNeedsNoHandOver() throws {
        let install = try Install()
        let box = try Sandbox()
        let conf = box.root.appendingPathComponent("nsswitch.conf")
        try """
        passwd:         files systemd
        group:          files systemd
        shadow:         files systemd
        hosts:          files dns
        services:       db files
        netgroup:       nis

        """.write(to: conf, atomically: true, encoding: .utf8)
        let r = try MDAD.run(["-c", box.config.path, "-f", Self.sender, "-a", "bob@mx.example.test"], input: Self.message,
                             environment: box.environment.merging(["MDAD_NSSWITCH_CONF": conf.path]) { _, b in b },
                             program: install.program)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(install.handOffs.isEmpty)
        #expect(try Self.stored(box.maildir.path).count == 1)
    }

    /// Without the dynamic program to hand to, the delivery is deferred with the reason.
    @Test func withoutTheDynamicProgramItDefers() throws {
        let install = try Install(withDynamic: false)
        let box = try Sandbox()
        let r = try MDAD.run(["-c", box.config.path, "-d", "nosuchuser", "-f", Self.sender], input: Self.message,
                             environment: box.environment, program: install.program)
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.firstErrorLine.hasPrefix("4.3.5 mdad-deliver: user \"nosuchuser\" is not in /etc/passwd; cannot hand the delivery to \(install.dir.path)/mdad: "),
                "\(r.firstErrorLine)")
    }

    /// A .forward with SRS: the static program's HMAC (libcrypto.a) signs exactly as the
    /// dynamic program's (libcrypto.so.3) does.
    @Test func srsForwardsMatchTheDynamicProgram() throws {
        let install = try Install()
        let box = try Sandbox()
        let home = box.root.appendingPathComponent("user-home").path
        let user = try TestUser(home: home)
        let capture = box.root.appendingPathComponent("sendmail.sh").path
        let args = box.root.appendingPathComponent("sendmail.args").path
        try "#!/bin/sh\necho \"$*\" >> '\(args)'\ncat > /dev/null\n".write(toFile: capture, atomically: true, encoding: .utf8)
        chmod(capture, 0o755)
        // The command runs as the user.
        _ = FileManager.default.createFile(atPath: args, contents: nil)
        chmod(args, 0o666)
        let secrets = box.config.appendingPathComponent("srs_secrets").path
        try "a-test-secret\n".write(toFile: secrets, atomically: true, encoding: .utf8)
        chown(secrets, user.uid, user.gid)
        chmod(secrets, 0o600)
        try """
        myhostname = mx.example.test
        pipeline = aliases
        alias_maps =
        srs_domain = forwarder.example.com
        srs_secrets = \(secrets)
        sendmail_path = \(capture)

        """.write(to: box.config.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        try "someone@remote.example\n".write(toFile: home + "/.forward", atomically: true, encoding: .utf8)
        chown(home + "/.forward", user.uid, user.gid)
        let argv = ["-c", box.config.path, "-d", user.name, "-f", Self.sender]
        let s = try MDAD.run(argv, input: Self.message, environment: box.environment, program: install.program)
        #expect(s.status == 0, "\(s.stderr)")
        let d = try MDAD.run(["deliver"] + argv, input: Self.message, environment: box.environment)
        #expect(d.status == 0, "\(d.stderr)")
        let lines = try String(contentsOfFile: args, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("-f SRS0=") == true, "\(lines)")
        #expect(lines.first?.hasSuffix("=origin.example=alice@forwarder.example.com -- someone@remote.example") == true, "\(lines)")
        #expect(lines.first == lines.last, "static and dynamic sign the same address")
        #expect(install.handOffs.isEmpty)
    }
}

/// mdad-deliver (this build's, dynamically linked) hands a delivery that needs a `pgsql:` table
/// to mdad, which has the PostgreSQL client; the message is still unread when it does.
@Suite("mdad-deliver hands pgsql: to mdad")
struct DeliverHandOffTests {
    @Test func aPgsqlTableHandsTheDeliveryToMdad() throws {
        let built = URL(fileURLWithPath: MDAD.binary).deletingLastPathComponent().appendingPathComponent("mdad-deliver").path
        try #require(FileManager.default.isExecutableFile(atPath: built), "\(built) is built with the tests")
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-handoff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = dir.appendingPathComponent("mdad-deliver").path
        try FileManager.default.copyItem(atPath: built, toPath: program)
        let log = dir.appendingPathComponent("handoff.log").path
        let wrapper = dir.appendingPathComponent("mdad").path
        try "#!/bin/sh\necho \"$*\" >> '\(log)'\nexec '\(MDAD.binary)' \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)

        // A PostgreSQL server that is not there: mdad defers the lookup (4.3.0), as it would
        // with the table in mdad deliver itself.
        let port = try freeLoopbackPort()
        let box = try Sandbox(mainCF: """
            virtual_mailbox_domains = example.test
            virtual_mailbox_base = \(dir.path)/vmail
            virtual_mailbox_maps = pgsql:\(dir.path)/pg.cf
            virtual_uid_maps = static:\(getuid())
            virtual_gid_maps = static:\(getgid())

            """)
        try "hosts = 127.0.0.1:\(port)\nuser = mail\ndbname = mail\nquery = SELECT 1 WHERE '%s' = ''\nconnect_timeout = 2\n"
            .write(toFile: dir.path + "/pg.cf", atomically: true, encoding: .utf8)
        let args = ["-c", box.config.path, "-f", "alice@example.org", "-a", "user@example.test"]
        let r = try MDAD.run(args, input: Data("Subject: pg\n\nx\n".utf8), environment: box.environment, program: program)
        let handOffs = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        #expect(handOffs == ["deliver " + args.joined(separator: " ")])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(!r.stderr.contains("unsupported table type"), "mdad answered, not mdad-deliver: \(r.stderr)")
        #expect(r.firstErrorLine.hasPrefix("4."), "\(r.stderr)")
    }
}

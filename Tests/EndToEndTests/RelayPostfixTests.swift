import Foundation
import Testing

/// Postfix from Debian as the relay, as a smarthost provider runs it: submission requires
/// STARTTLS and SASL (Dovecot's auth service checks the password), and mail for example.net is
/// stored by virtual(8) in one Maildir. mdad is the null client in front of it.
final class PostfixRelay {
    let root: URL
    let port: Int
    let ca: TestCA
    var mailbox: URL { root.appendingPathComponent("mail/box/new") }
    var maillog: URL { root.appendingPathComponent("maillog") }
    private(set) var masterPID: pid_t = 0
    private(set) var dovecotPID: pid_t = 0

    init(user: String, password: String) throws {
        guard getuid() == 0 else { throw SkipReason("a private Postfix and Dovecot need root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") else { throw SkipReason("dovecot-core is not installed") }
        root = URL(fileURLWithPath: "/tmp/mdad-smarthost-\(UUID().uuidString.prefix(8))")
        port = try freeLoopbackPort()
        ca = try TestCA()
        let cert = try ca.issue("localhost")
        let fm = FileManager.default
        for d in ["etc", "queue", "data", "mail", "run", "state"] {
            try fm.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        chmod(root.path, 0o755)
        chmod(root.appendingPathComponent("run").path, 0o755)
        chown(root.appendingPathComponent("data").path, try PostfixInstance.uid("postfix"), gid_t(bitPattern: -1))
        chown(root.appendingPathComponent("mail").path, 65534, 65534)

        // Dovecot: only the auth service, a socket Postfix's smtpd may use.
        try "\(user):{PLAIN}\(password)\n".write(to: root.appendingPathComponent("users"), atomically: true, encoding: .utf8)
        let dovecotConf = """
            base_dir = \(root.path)/run
            state_dir = \(root.path)/state
            log_path = \(root.path)/dovecot.log
            protocols =
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(root.path)/users
            }
            userdb {
              driver = static
              args = uid=65534 gid=65534 home=/nonexistent
            }
            service auth {
              unix_listener auth-smtp {
                mode = 0666
              }
            }

            """
        let conf = root.appendingPathComponent("dovecot.conf")
        try dovecotConf.write(to: conf, atomically: true, encoding: .utf8)
        let d = try DovecotInstance.spawnDaemon("/usr/sbin/dovecot", ["-c", conf.path], output: root.appendingPathComponent("dovecot.out").path)
        guard d.status == 0 else { throw SkipReason("dovecot failed to start: \(d.output)") }
        let authSocket = root.appendingPathComponent("run/auth-smtp").path
        let dovecotPidFile = root.appendingPathComponent("run/master.pid").path
        guard waitUntil(10, { FileManager.default.fileExists(atPath: authSocket) && ((try? String(contentsOfFile: dovecotPidFile, encoding: .utf8)) ?? "").hasSuffix("\n") }),
              let text = try? String(contentsOfFile: dovecotPidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SkipReason("dovecot auth did not start: \((try? String(contentsOf: root.appendingPathComponent("dovecot.log"), encoding: .utf8)) ?? "")")
        }
        dovecotPID = pid

        let main = """
            compatibility_level = 3.6
            queue_directory = \(root.path)/queue
            data_directory = \(root.path)/data
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = smarthost.example.org
            mydomain = example.org
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks =
            alias_maps =
            alias_database =
            biff = no
            smtputf8_enable = no
            maillog_file_prefixes = /tmp
            maillog_file = \(maillog.path)
            smtpd_tls_cert_file = \(cert.cert)
            smtpd_tls_key_file = \(cert.key)
            smtpd_tls_security_level = encrypt
            smtpd_tls_auth_only = yes
            smtpd_tls_received_header = yes
            smtpd_sasl_auth_enable = yes
            smtpd_sasl_type = dovecot
            smtpd_sasl_path = \(authSocket)
            smtpd_relay_restrictions = permit_sasl_authenticated, reject
            smtpd_recipient_restrictions = permit_sasl_authenticated, reject
            virtual_mailbox_domains = example.net
            virtual_mailbox_base = \(root.path)/mail
            virtual_mailbox_maps = static:box/
            virtual_uid_maps = static:65534
            virtual_gid_maps = static:65534
            virtual_minimum_uid = 1

            """
        try main.write(to: root.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        let services = ["127.0.0.1:\(port) inet n - n - - smtpd", "virtual unix - n n - - virtual", "tlsmgr unix - - n 1000? 1 tlsmgr"]
            + PostfixInstance.services
        try (services.joined(separator: "\n") + "\n").write(to: root.appendingPathComponent("etc/master.cf"), atomically: true, encoding: .utf8)
        let start = Process()
        start.executableURL = URL(fileURLWithPath: "/usr/sbin/postfix")
        start.arguments = ["-c", root.appendingPathComponent("etc").path, "start"]
        start.standardOutput = FileHandle.nullDevice
        start.standardError = FileHandle.nullDevice
        try start.run()
        start.waitUntilExit()
        let pidFile = root.appendingPathComponent("queue/pid/master.pid").path
        guard waitUntil(10, {
            if let t = try? String(contentsOfFile: pidFile, encoding: .utf8), let p = pid_t(t.trimmingCharacters(in: .whitespacesAndNewlines)),
               p > 0, kill(p, 0) == 0, DovecotInstance.accepts(port: self.port) {
                self.masterPID = p
                return true
            }
            return false
        }) else {
            stop()
            throw SkipReason("postfix did not start: \(log)")
        }
    }

    var log: String { (try? String(contentsOf: maillog, encoding: .utf8)) ?? "" }

    /// The messages virtual(8) stored.
    var delivered: [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: mailbox.path)) ?? []).sorted()
        return names.compactMap { try? String(contentsOf: mailbox.appendingPathComponent($0), encoding: .utf8) }
    }

    func stop() {
        for pid in [masterPID, dovecotPID] where pid > 0 {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
        masterPID = 0
        dovecotPID = 0
        try? FileManager.default.removeItem(at: root)
    }

    deinit { stop() }
}

@Suite("relay: Postfix as the smarthost, STARTTLS and SASL through Dovecot", .serialized)
struct RelayPostfixTests {
    static func client(_ relay: PostfixRelay, password: String) throws -> NullClient {
        let c = try NullClient(relayhost: "[localhost]:\(relay.port)", extra: """
            smtp_tls_security_level = secure
            smtp_tls_CAfile = \(relay.ca.caFile)
            smtp_sasl_auth_enable = yes
            smtp_sasl_password_maps = texthash:/PLACEHOLDER
            """)
        let passwd = c.etc.appendingPathComponent("sasl_passwd")
        try "[localhost]:\(relay.port) relayuser:\(password)\n".write(to: passwd, atomically: true, encoding: .utf8)
        chmod(passwd.path, 0o600)
        let mainCF = c.etc.appendingPathComponent("main.cf")
        let text = try String(contentsOf: mainCF, encoding: .utf8).replacingOccurrences(of: "/PLACEHOLDER", with: passwd.path)
        try text.write(to: mainCF, atomically: true, encoding: .utf8)
        return c
    }

    @Test func sendmailAndMailxReachThePostfixRelayOverTLSWithSASL() throws {
        let relay = try PostfixRelay(user: "relayuser", password: "s3cret-relay")
        defer { relay.stop() }
        let c = try Self.client(relay, password: "s3cret-relay")
        try c.start()
        defer { c.stop() }
        let r = try c.sendmail(["-f", "alice", "-F", "Alice Example", "bob@example.net"], "Subject: through the smarthost\n\nhello relay\n")
        #expect(r.status == 0, "\(r.stderr)")

        // bsd-mailx with mdad as its sendmail (the link name), as on a null-client host.
        let bin = c.root.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("sendmail").path, withDestinationPath: MDAD.binary)
        let mailrc = c.root.appendingPathComponent("mailrc")
        try "set sendmail=\(bin.path)/sendmail\n".write(to: mailrc, atomically: true, encoding: .utf8)
        let m = try MDAD.run(["-s", "from mailx", "carol@example.net"], input: Data("written with mail(1)\n".utf8),
                             environment: ["MAILRC": mailrc.path, "MDAD_CONFIG_DIR": c.etc.path, "HOME": c.root.path],
                             program: "/usr/bin/mail")
        #expect(m.status == 0, "\(m.stderr)")

        #expect(waitUntil(30) { relay.delivered.count == 2 }, "mdad: \(c.log)\npostfix: \(relay.log)")
        let first = try #require(relay.delivered.first { $0.contains("Subject: through the smarthost") })
        #expect(first.contains("Return-Path: <alice@client.example.test>"))
        #expect(first.contains("From: \"Alice Example\" <alice@client.example.test>") || first.contains("From: Alice Example <alice@client.example.test>"), "\(first)")
        // Postfix says in its Received: line that the client used TLS and authenticated.
        #expect(first.contains("with ESMTPSA"), "\(first)")
        #expect(first.contains("(using TLS"), "\(first)")
        let second = try #require(relay.delivered.first { $0.contains("Subject: from mailx") })
        #expect(second.contains("Return-Path: <root@client.example.test>"), "\(second)")
        #expect(second.contains("To: carol@example.net"))
        #expect(second.contains("written with mail(1)"))
        #expect(relay.log.contains("sasl_method=PLAIN, sasl_username=relayuser"))
        #expect(!c.log.contains("s3cret-relay"), "the password reached the log")
        #expect(c.log.contains("status=sent (250 2.0.0 Ok: queued as"))
    }

    @Test func wrongPasswordDefersAndNeverBounces() throws {
        let relay = try PostfixRelay(user: "relayuser", password: "right-one")
        defer { relay.stop() }
        let c = try Self.client(relay, password: "wrong-one")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice", "bob@example.net"], "Subject: denied\n\nx\n").status == 0)
        #expect(waitUntil(20) { c.files("deferred").count == 1 }, "\(c.log)")
        let q = try c.mdad(["mailq"])
        #expect(q.stdout.contains("SASL authentication failed; server localhost[127.0.0.1] said: 535 5.7.8"), "\(q.stdout)")
        #expect(relay.delivered.isEmpty)
        #expect(!c.log.contains("wrong-one"))
    }
}

import Foundation
import Testing

/// mdad as the null client against a scripted SMTP server on loopback that injects failures
/// (Scripts/smtp_server.py): each test has its own server, ports and queue.
@Suite("relay: failures injected by a scripted server", .serialized)
struct RelayFailureTests {
    static func message(_ subject: String) -> String { "Subject: \(subject)\nTo: someone@example.net\n\nbody of \(subject)\n" }

    @Test func perRecipientRepliesDeliverDeferAndBounce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--rcpt", "bad@example.net=550 5.1.1 <bad@example.net>: no such user",
                                                                       "--rcpt", "busy@example.net=450 4.2.0 <busy@example.net>: try later"])
        let c2 = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c2.start()
        defer { c2.stop(); s.stop() }
        let r = try c2.sendmail(["-f", "alice@example.test", "good@example.net", "bad@example.net", "busy@example.net"], Self.message("mixed"))
        #expect(r.status == 0, "\(r.stderr)")
        // The good recipient gets it, the sender gets one bounce for bad@, busy@ waits.
        #expect(waitUntil(20) { s.received.count == 2 }, "\(c2.log)")
        let got = s.received
        let original = try #require(got.first { $0.from == "alice@example.test" })
        #expect(original.to == ["good@example.net"])
        #expect(original.data.contains("Subject: mixed"))
        let bounce = try #require(got.first { $0.from == "" })
        #expect(bounce.to == ["alice@example.test"])
        for line in ["Final-Recipient: rfc822; bad@example.net", "Action: failed", "Status: 5.1.1",
                     "Diagnostic-Code: smtp; 550 5.1.1 <bad@example.net>: no such user", "Subject: mixed",
                     "report-type=delivery-status"] {
            #expect(bounce.data.contains(line), "bounce lacks \(line)")
        }
        #expect(!bounce.data.contains("busy@example.net"))
        let q = try c2.mdad(["mailq"])
        #expect(q.stdout.contains("(host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <busy@example.net>: try later (in reply to RCPT TO command))"), "\(q.stdout)")
        #expect(q.stdout.contains(String(repeating: " ", count: 41) + "busy@example.net"))
        #expect(!q.stdout.contains("good@example.net") && !q.stdout.contains("bad@example.net"))
        #expect(c2.log.contains("to=<good@example.net>, relay=127.0.0.1[127.0.0.1]:\(s.port)"))
        #expect(c2.log.contains("dsn=5.1.1, status=bounced"))
    }

    @Test func greeting421DefersWithTheReasonInMailq() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--greeting", "421 4.3.2 not now"])
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c.start()
        defer { c.stop(); s.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("greeting")).status == 0)
        #expect(waitUntil(15) { c.files("deferred").count == 1 }, "\(c.log)")
        let q = try c.mdad(["postqueue", "-p"])
        #expect(q.stdout.contains("(host 127.0.0.1[127.0.0.1] said: 421 4.3.2 not now (in reply to initial server greeting))"), "\(q.stdout)")
        #expect(s.received.isEmpty)
        let j = try c.mdad(["postqueue", "-j"])
        #expect(j.stdout.contains("\"queue_name\": \"deferred\"") && j.stdout.contains("\"delay_reason\": \"host 127.0.0.1"))
    }

    @Test func disconnectInTheMiddleOfDataIsRetriedAndDeliveredOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--drop-in-data", "1"])
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c.start()
        defer { c.stop(); s.stop() }
        let body = "Subject: cut\n\n" + String(repeating: "line of the message body\n", count: 2000)
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], body).status == 0)
        #expect(waitUntil(30) { s.received.count == 1 && c.queued == 0 }, "\(c.log)")
        #expect(s.commands.contains("DROPPED IN DATA"))
        #expect(c.log.contains("status=deferred (lost connection with 127.0.0.1[127.0.0.1] while"), "\(c.log)")
        usleep(2_500_000)
        #expect(s.received.count == 1, "delivered more than once")
        #expect(s.received.first?.data.hasSuffix("line of the message body\r\n") == true)
    }

    @Test func certificateMismatchUnderVerifyIsDeferredAndAMatchingOneIsUsed() throws {
        let ca = try TestCA()
        let wrong = try ca.issue("other.test"), right = try ca.issue("localhost")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try ScriptedSMTPServer(directory: dir, arguments: ["--cert", wrong.cert, "--key", wrong.key])
        let c = try NullClient(relayhost: "[localhost]:\(bad.port)",
                               extra: "smtp_tls_security_level = verify\nsmtp_tls_CAfile = \(ca.caFile)")
        try c.start()
        defer { c.stop(); bad.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("mismatch")).status == 0)
        #expect(waitUntil(15) { c.files("deferred").count == 1 }, "\(c.log)")
        #expect(bad.received.isEmpty)
        #expect(c.log.contains("dsn=4.7.5, status=deferred (TLS handshake with localhost"), "\(c.log)")
        // The control: the same client with a certificate for the name it connects to.
        let good = try ScriptedSMTPServer(directory: dir, arguments: ["--cert", right.cert, "--key", right.key])
        let c2 = try NullClient(relayhost: "[localhost]:\(good.port)",
                                extra: "smtp_tls_security_level = verify\nsmtp_tls_CAfile = \(ca.caFile)")
        try c2.start()
        defer { c2.stop(); good.stop() }
        #expect(try c2.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("match")).status == 0)
        #expect(waitUntil(15) { good.received.count == 1 }, "\(c2.log)")
        #expect(good.received.first?.tls == true)
        #expect(good.commands.contains("TLS EHLO client.example.test"))
    }

    @Test func implicitTLSWithSASLInWrapperMode() throws {
        let ca = try TestCA()
        let cert = try ca.issue("localhost")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--cert", cert.cert, "--key", cert.key, "--implicit-tls",
                                                                    "--auth", "smtpuser:pa55word"])
        let c = try NullClient(relayhost: "[localhost]:\(s.port)", extra: """
            smtp_tls_wrappermode = yes
            smtp_tls_security_level = secure
            smtp_tls_CAfile = \(ca.caFile)
            smtp_sasl_auth_enable = yes
            smtp_sasl_password_maps = inline:{ [localhost]:\(s.port)=smtpuser:pa55word }
            """)
        try c.start()
        defer { c.stop(); s.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("smtps")).status == 0)
        #expect(waitUntil(15) { s.received.count == 1 }, "\(c.log)")
        #expect(s.received.first?.tls == true)
        // TLS from the start: no STARTTLS, EHLO once, then AUTH.
        #expect(!s.commands.contains("STARTTLS"))
        #expect(s.commands.hasPrefix("TLS EHLO client.example.test\nTLS AUTH PLAIN ***\n"), "\(s.commands)")
    }

    @Test func relayDownThenBackDeliversEachMessageOnce() throws {
        let port = try freeLoopbackPort()
        let c = try NullClient(relayhost: "[127.0.0.1]:\(port)")
        try c.start()
        defer { c.stop() }
        for k in 0..<5 {
            #expect(try c.sendmail(["-f", "alice@example.test", "bob\(k)@example.net"], Self.message("outage \(k)")).status == 0)
        }
        #expect(waitUntil(15) { c.files("deferred").count == 5 }, "\(c.log)")
        let q = try c.mdad(["mailq"])
        #expect(q.stdout.contains("connect to 127.0.0.1[127.0.0.1]:\(port): Connection refused"), "\(q.stdout)")
        #expect(q.stdout.contains("-- 1 Kbytes in 5 Requests.") || q.stdout.contains("-- 0 Kbytes in 5 Requests."), "\(q.stdout)")
        let s = try ScriptedSMTPServer(port: port, directory: c.root)
        defer { s.stop() }
        #expect(waitUntil(30) { c.queued == 0 }, "\(c.log)")
        usleep(1_500_000)
        let subjects = s.received.compactMap { $0.data.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") } }.map(String.init)
        #expect(subjects.sorted() == (0..<5).map { "Subject: outage \($0)" })
        #expect(try c.mdad(["mailq"]).stdout == "Mail queue is empty\n")
    }

    @Test func postqueueFlushRetriesNowAndPostsuperHolds() throws {
        let port = try freeLoopbackPort()
        let c = try NullClient(relayhost: "[127.0.0.1]:\(port)",
                               extra: "minimal_backoff_time = 300s\nmaximal_backoff_time = 600s\nqueue_run_delay = 300s")
        try c.start()
        defer { c.stop() }
        for k in 0..<2 {
            #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("flush \(k)")).status == 0)
        }
        #expect(waitUntil(15) { c.files("deferred").count == 2 }, "\(c.log)")
        let held = try #require(c.files("deferred").sorted().first)
        let h = try c.mdad(["postsuper", "-h", held])
        #expect(h.stderr.contains("Placed on hold: 1 message"), "\(h.stderr)")
        #expect(try c.mdad(["mailq"]).stdout.contains("\(held)!"))
        let s = try ScriptedSMTPServer(port: port, directory: c.root)
        defer { s.stop() }
        // Without a flush nothing would be tried for 300 s.
        #expect(try c.mdad(["postqueue", "-f"]).status == 0)
        #expect(waitUntil(15) { s.received.count == 1 }, "\(c.log)")
        #expect(c.files("hold") == [held])
        #expect(try c.mdad(["postsuper", "-H", held]).stderr.contains("Released from hold: 1 message"))
        #expect(try c.mdad(["postqueue", "-f"]).status == 0)
        #expect(waitUntil(15) { s.received.count == 2 && c.queued == 0 }, "\(c.log)")
    }

    @Test func lifetimeExceededSendsOneBounceWithTheDSNFields() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--rcpt", "slow@example.net=451 4.3.0 <slow@example.net>: mailbox busy"])
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)", extra: "maximal_queue_lifetime = 3s\nbounce_queue_lifetime = 3s")
        try c.start()
        defer { c.stop(); s.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "-V", "ENVID42", "slow@example.net"], Self.message("old")).status == 0)
        #expect(waitUntil(30) { s.received.count == 1 && c.queued == 0 }, "\(c.log)")
        usleep(3_000_000)
        let got = s.received
        #expect(got.count == 1, "exactly one bounce")
        let b = try #require(got.first)
        #expect(b.from == "" && b.to == ["alice@example.test"])
        for line in ["Final-Recipient: rfc822; slow@example.net", "Original-Recipient: rfc822;slow@example.net", "Action: failed",
                     "Status: 4.3.0", "Original-Envelope-Id: ENVID42", "Diagnostic-Code: smtp; 451 4.3.0 <slow@example.net>: mailbox busy",
                     "Subject: old"] {
            #expect(b.data.contains(line), "bounce lacks \(line)")
        }
        #expect(c.log.contains("status=expired, returned to sender"))
    }

    @Test func delayWarningIsSentOnceWhileTheMessageIsRetried() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--rcpt", "slow@example.net=450 4.2.1 <slow@example.net>: later"])
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)", extra: "delay_warning_time = 2s")
        try c.start()
        defer { c.stop(); s.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "slow@example.net"], Self.message("slow")).status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        // More retries, and still one notice.
        usleep(4_000_000)
        #expect(c.log.components(separatedBy: "to=<slow@example.net>").count >= 4, "\(c.log)")
        #expect(s.received.count == 1)
        let n = try #require(s.received.first)
        #expect(n.from == "" && n.to == ["alice@example.test"])
        for line in ["Subject: Delayed Mail (still being retried)", "Action: delayed", "Status: 4.2.1",
                     "Final-Recipient: rfc822; slow@example.net", "Subject: slow"] {
            #expect(n.data.contains(line), "notice lacks \(line)")
        }
        #expect(c.queued == 1, "the message itself stays queued")
    }

    @Test func killNineWithAFullQueueThenRestartDeliversEverything() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try freeLoopbackPort()
        let c = try NullClient(relayhost: "[127.0.0.1]:\(port)")
        let n = 60
        // Queued while nothing runs: acknowledged means on disk.
        for k in 0..<n {
            #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], Self.message("crash \(k)")).status == 0)
        }
        #expect(c.files("incoming").count == n)
        let s = try ScriptedSMTPServer(port: port, directory: dir)
        defer { s.stop() }
        try c.start()
        // kill -9 in the middle of the deliveries.
        #expect(waitUntil(30) { s.received.count >= 5 })
        c.stop(signal: SIGKILL)
        let before = s.received.count
        #expect(c.queued > 0, "all \(n) went out before the kill; the test proves nothing")
        try c.start()
        #expect(waitUntil(60) { c.queued == 0 }, "left: \(["incoming", "active", "deferred", "hold", "corrupt"].map { "\($0): \(c.files($0))" }) \(c.log)")
        usleep(1_500_000)
        let subjects = s.received.compactMap { $0.data.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") } }.map(String.init)
        let distinct = Set(subjects)
        print("kill -9: \(before) delivered before the kill, \(subjects.count) in all, \(distinct.count) distinct, \(subjects.count - distinct.count) sent twice")
        #expect(distinct == Set((0..<n).map { "Subject: crash \($0)" }))
        // Only a message in the window between the server's 250 and our mark can go twice;
        // at most one per connection in flight.
        #expect(subjects.count - distinct.count <= 20)
    }
}

/// relayhost without brackets: its MX records through `dns_resolver`, a stub on loopback.
@Suite("relay: MX lookups through dns_resolver", .serialized)
struct RelayMXTests {
    @Test func relayhostNameIsLookedUpAsMXAndTheBestReachableHostIsUsed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        defer { s.stop() }
        let dnsPort = try freeLoopbackPort()
        let dnsOut = dir.appendingPathComponent("dns")
        // mx1 (preference 5) has an address where nothing listens; mx2 (10) is the server.
        let dns = try spawnChild("/usr/bin/python3", [ScriptedSMTPServer.script.replacingOccurrences(of: "smtp_server.py", with: "dns_stub.py"),
                                                      "--port", "\(dnsPort)", "--out", dnsOut.path,
                                                      "--mx", "smarthost.test=10:mx2.smarthost.test", "--mx", "smarthost.test=5:mx1.smarthost.test",
                                                      "--a", "mx1.smarthost.test=127.0.0.2", "--a", "mx2.smarthost.test=127.0.0.1"],
                                 output: dir.appendingPathComponent("dns.out").path)
        defer { stopChild(dns) }
        #expect(waitUntil(10) { FileManager.default.fileExists(atPath: dnsOut.appendingPathComponent("ready").path) })
        let c = try NullClient(relayhost: "smarthost.test:\(s.port)", extra: "dns_resolver = 127.0.0.1:\(dnsPort)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: via MX\n\nx\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("relay=mx2.smarthost.test[127.0.0.1]:\(s.port)"), "\(c.log)")
        let queries = (try? String(contentsOf: dnsOut.appendingPathComponent("queries.log"), encoding: .utf8)) ?? ""
        #expect(queries.hasPrefix("smarthost.test MX\n"), "\(queries)")
        #expect(queries.contains("mx1.smarthost.test A") && queries.contains("mx2.smarthost.test A"))

        // A relayhost name that does not exist defers (a configuration error, not the sender's).
        let c2 = try NullClient(relayhost: "nowhere.test:\(s.port)", extra: "dns_resolver = 127.0.0.1:\(dnsPort)")
        try c2.start()
        defer { c2.stop() }
        #expect(try c2.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: nowhere\n\nx\n").status == 0)
        #expect(waitUntil(15) { c2.files("deferred").count == 1 }, "\(c2.log)")
        #expect(c2.log.contains("dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=nowhere.test type=MX"), "\(c2.log)")
    }
}

/// SIGHUP: the queue manager reads main.cf again; a broken one keeps the old settings.
@Suite("relay: reload on SIGHUP", .serialized)
struct RelayReloadTests {
    @Test func aNewRelayhostAppliesAfterSIGHUPAndABrokenConfigurationIsRefused() throws {
        let dead = try freeLoopbackPort()
        let c = try NullClient(relayhost: "[127.0.0.1]:\(dead)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: reload\n\nx\n").status == 0)
        #expect(waitUntil(15) { c.files("deferred").count == 1 }, "\(c.log)")
        let s = try ScriptedSMTPServer(directory: c.root)
        defer { s.stop() }
        let mainCF = c.etc.appendingPathComponent("main.cf")
        let original = try String(contentsOf: mainCF, encoding: .utf8)

        // A broken main.cf: logged, the old relayhost stays (the message stays deferred).
        try (original + "smtp_tls_security_level = sometimes\n").write(to: mainCF, atomically: true, encoding: .utf8)
        kill(c.pid, SIGHUP)
        #expect(waitUntil(10) { c.log.contains("reload failed, the queue manager keeps the previous configuration") }, "\(c.log)")
        usleep(2_500_000)
        #expect(s.received.isEmpty)

        // The relayhost now names the running server: the deferred message goes there.
        try original.replacingOccurrences(of: "relayhost = [127.0.0.1]:\(dead)", with: "relayhost = [127.0.0.1]:\(s.port)")
            .write(to: mainCF, atomically: true, encoding: .utf8)
        kill(c.pid, SIGHUP)
        #expect(waitUntil(10) { c.log.contains("reload: relay configuration reloaded") }, "\(c.log)")
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("relay=127.0.0.1[127.0.0.1]:\(s.port)"), "\(c.log)")
    }
}

/// AAAA records and DNS over TCP, against the stub.
@Suite("relay: IPv6 and DNS over TCP", .serialized)
struct RelayIPv6DNSTests {
    func stub(_ dir: URL, _ args: [String]) throws -> (pid: pid_t, port: Int, out: URL) {
        let port = try freeLoopbackPort()
        let out = dir.appendingPathComponent("dns")
        let pid = try spawnChild("/usr/bin/python3", [ScriptedSMTPServer.script.replacingOccurrences(of: "smtp_server.py", with: "dns_stub.py"),
                                                      "--port", "\(port)", "--out", out.path] + args,
                                 output: dir.appendingPathComponent("dns.out").path)
        #expect(waitUntil(10) { FileManager.default.fileExists(atPath: out.appendingPathComponent("ready").path) })
        return (pid, port, out)
    }

    @Test func aMailHostWithOnlyAnIPv6AddressIsReachedOverIPv6() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--host", "::1"])
        defer { s.stop() }
        let dns = try stub(dir, ["--mx", "six.test=10:mx.six.test", "--aaaa", "mx.six.test=::1"])
        defer { stopChild(dns.pid) }
        let c = try NullClient(relayhost: "six.test:\(s.port)", extra: "dns_resolver = 127.0.0.1:\(dns.port)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: over IPv6\n\nx\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("relay=mx.six.test[::1]:\(s.port)"), "\(c.log)")
        let queries = (try? String(contentsOf: dns.out.appendingPathComponent("queries.log"), encoding: .utf8)) ?? ""
        #expect(queries.contains("mx.six.test A\n") && queries.contains("mx.six.test AAAA\n"), "\(queries)")
    }

    @Test func anIPv6RelayhostAsPostfixWritesIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--host", "::1"])
        defer { s.stop() }
        let c = try NullClient(relayhost: "[ipv6:::1]:\(s.port)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: to [ipv6:::1]\n\nx\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("[::1]:\(s.port)"), "\(c.log)")
    }

    @Test func aDNSServerOnIPv6IsAsked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        defer { s.stop() }
        let dns = try stub(dir, ["--host", "::1", "--mx", "v6dns.test=10:mx.v6dns.test", "--a", "mx.v6dns.test=127.0.0.1"])
        defer { stopChild(dns.pid) }
        let c = try NullClient(relayhost: "v6dns.test:\(s.port)", extra: "dns_resolver = [::1]:\(dns.port)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: DNS over IPv6\n\nx\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("relay=mx.v6dns.test[127.0.0.1]:\(s.port)"), "\(c.log)")
        let queries = (try? String(contentsOf: dns.out.appendingPathComponent("queries.log"), encoding: .utf8)) ?? ""
        #expect(queries.contains("v6dns.test MX\n"), "\(queries)")
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        defer { s.stop() }
        let dns = try stub(dir, ["--truncate", "--mx", "big.test=10:mx.big.test", "--a", "mx.big.test=127.0.0.1"])
        defer { stopChild(dns.pid) }
        let c = try NullClient(relayhost: "big.test:\(s.port)", extra: "dns_resolver = 127.0.0.1:\(dns.port)")
        try c.start()
        defer { c.stop() }
        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net"], "Subject: big answer\n\nx\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 1 }, "\(c.log)")
        #expect(c.log.contains("relay=mx.big.test[127.0.0.1]:\(s.port)"), "\(c.log)")
        let queries = (try? String(contentsOf: dns.out.appendingPathComponent("queries.log"), encoding: .utf8)) ?? ""
        // Each question first over UDP (truncated), then again over TCP.
        #expect(queries.contains("big.test MX\nbig.test MX tcp\n") && queries.contains("mx.big.test A\nmx.big.test A tcp\n"), "\(queries)")
    }
}

/// An ordinary user submits through the world-writable maildrop; the queue manager picks it up.
@Suite("relay: submission by an ordinary user", .serialized)
struct RelayUserSubmissionTests {
    @Test func sendmailRunAsAUserGoesThroughMaildrop() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir)
        defer { s.stop() }
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        // The home exists before the user, so that TestUser.removeStale in a test running at the
        // same time never takes the user for a leftover.
        let home = c.root.appendingPathComponent("home").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let user = try TestUser(home: home)
        // Before the queue manager runs: the file waits in maildrop, which the user cannot list.
        let r = try c.sendmail(["bob@example.net"], "Subject: from a user\n\nhi\n", prefix: user.prefix)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(c.files("maildrop").count == 1 && c.files("incoming").isEmpty)
        let listing = try MDAD.run(["postqueue", "-p", "-c", c.etc.path], input: Data(), prefix: user.prefix)
        #expect(listing.status == 69 && listing.stderr.contains("permission denied"), "\(listing)")
        try c.start()
        defer { c.stop() }
        #expect(waitUntil(15) { s.received.count == 1 }, "\(c.log)")
        #expect(s.received.first?.from == "\(user.name)@client.example.test")
    }
}

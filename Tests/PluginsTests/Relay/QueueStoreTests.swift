#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline
@testable import Plugins

@Suite("outbound queue files")
struct QueueStoreTests {
    func store(_ dir: TempDir) throws -> QueueStore {
        let s = QueueStore(directory: dir.path + "/queue")
        try s.create()
        return s
    }

    func enqueue(_ s: QueueStore, _ text: String = "Subject: x\n\nbody\n", recipients: [String] = ["b@y.test", "c@y.test"]) throws -> String {
        let f = QueueFile(arrival: 1_700_000_000, sender: "a@x.test", envid: "E1", ret: "FULL",
                          recipients: recipients.map { .init(address: $0, originalRecipient: "rfc822;\($0)", notify: "FAILURE,DELAY") },
                          messageSize: 0)
        return try s.enqueue(f) { try $0.write(Array(text.utf8)) }
    }

    @Test func enqueueWritesACompleteFileThatReadsBack() throws {
        let dir = TempDir()
        let s = try store(dir)
        let id = try enqueue(s)
        #expect(QueueStore.isQueueID(id) && id.count == 11)
        #expect(s.list(.incoming) == [id])
        // Nothing half-written is left beside it.
        #expect(dir.list(dir.path + "/queue/incoming") == [id])
        let f = try s.read(.incoming, id)
        #expect(f.sender == "a@x.test" && f.envid == "E1" && f.ret == "FULL" && f.arrival == 1_700_000_000)
        #expect(f.recipients.map(\.address) == ["b@y.test", "c@y.test"])
        #expect(f.recipients[0].notify == "FAILURE,DELAY" && f.recipients[0].originalRecipient == "rfc822;b@y.test")
        #expect(f.messageSize == 17)
        let bytes = try Posix.readFile(s.path(.incoming, id))
        #expect(Array(bytes[f.messageOffset...]) == Array("Subject: x\n\nbody\n".utf8))
    }

    @Test func markDoneChangesOneByteAndSurvivesRereading() throws {
        let dir = TempDir()
        let s = try store(dir)
        let id = try enqueue(s)
        let f = try s.read(.incoming, id)
        try s.markDone(.incoming, id, f.recipients[1])
        let g = try s.read(.incoming, id)
        #expect(g.recipients.map(\.done) == [false, true])
        #expect(g.pending.map(\.address) == ["b@y.test"])
        #expect(g.messageOffset == f.messageOffset)
    }

    @Test func recoveryPutsActiveBackAndDropsHalfWrittenFiles() throws {
        let dir = TempDir()
        let s = try store(dir)
        let id = try enqueue(s)
        try s.move(id, from: .incoming, to: .active)
        // A writer killed before its rename, long ago.
        let stale = dir.path + "/queue/incoming/.0123456789A"
        close(open(stale, O_WRONLY | O_CREAT, 0o600))
        var old = [timespec(tv_sec: 1000, tv_nsec: 0), timespec(tv_sec: 1000, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, stale, &old, 0)
        #expect(s.recover() == 1)
        #expect(s.list(.incoming) == [id] && s.list(.active).isEmpty)
        #expect(!Posix.exists(stale))
    }

    @Test func deferredFileCarriesItsNextTryAsMtimeAndTheReasons() throws {
        let dir = TempDir()
        let s = try store(dir)
        let id = try enqueue(s)
        try s.writeDeferLog(id, [.init(address: "b@y.test", status: .init(4, 4, 1), reason: "connect to x: refused")])
        try s.deferUntil(id, from: .incoming, next: 2_000_000_000)
        #expect(s.modificationTime(.deferred, id) == 2_000_000_000)
        #expect(s.readDeferLog(id) == [.init(address: "b@y.test", status: .init(4, 4, 1), reason: "connect to x: refused")])
        let entries = MailqCommand.entries(s)
        #expect(entries.count == 1 && entries[0].recipients.map(\.reason) == ["connect to x: refused", nil])
    }

    @Test func unsafeEnvelopeValuesAreRefused() throws {
        let dir = TempDir()
        let s = try store(dir)
        #expect(throws: DeliveryStatus.self) { _ = try enqueue(s, recipients: ["evil\nrcpt=P - - x@y"]) }
        #expect(s.list(.incoming).isEmpty)
    }

    @Test func corruptFilesAreNotQueueFiles() {
        #expect(throws: QueueFileError.self) { _ = try QueueFile.decode(Array("hello\n\n".utf8)) }
        #expect(throws: QueueFileError.self) { _ = try QueueFile.decode(Array("MDADQ1\narrival=1\n".utf8)) }
        #expect(throws: QueueFileError.self) { _ = try QueueFile.decode(Array("MDADQ1\narrival=1\nsender=a\nrcpt=X - - b\nsize=1\n\nx".utf8)) }
    }

    @Test func mailqFormatIsPostfixs() throws {
        let e = MailqCommand.Entry(id: "4E4D83AF8E", state: .deferred, size: 943, arrival: 0, sender: "full@example.net",
                                   recipients: [("full@example.net", "host x said: 452 4.2.2 Over quota (in reply to RCPT TO command)")])
        let lines = MailqCommand.format([e]).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "-Queue ID- --Size-- ----Arrival Time---- -Sender/Recipient-------")
        // "%-10s%c%8ld %20.20s %s": the sender starts at column 41, under the recipients.
        #expect(lines[1].hasPrefix("4E4D83AF8E      943 "))
        #expect(lines[1].firstRange(of: "full@example.net")?.lowerBound.utf16Offset(in: lines[1]) == 41)
        #expect(lines[2] == "(host x said: 452 4.2.2 Over quota (in reply to RCPT TO command))")
        #expect(lines[3] == String(repeating: " ", count: 41) + "full@example.net")
        #expect(lines[5] == "-- 0 Kbytes in 1 Request.")
        #expect(MailqCommand.format([]) == "Mail queue is empty\n")
        #expect(MailqCommand.formatJSON([e]).contains("\"queue_name\": \"deferred\", \"queue_id\": \"4E4D83AF8E\""))
    }

    @Test func postsuperHoldsReleasesRequeuesAndDeletes() throws {
        let dir = TempDir()
        let s = try store(dir)
        let a = try enqueue(s), b = try enqueue(s)
        #expect(PostsuperCommand.apply(.hold, ids: [a], queues: nil, store: s) == 1)
        #expect(s.list(.hold) == [a])
        #expect(PostsuperCommand.apply(.release, ids: ["ALL"], queues: nil, store: s) == 1)
        #expect(s.list(.deferred) == [a])
        #expect(PostsuperCommand.apply(.requeue, ids: [a], queues: nil, store: s) == 1)
        #expect(s.list(.incoming).sorted() == [a, b].sorted())
        #expect(PostsuperCommand.apply(.delete, ids: ["ALL"], queues: [.incoming], store: s) == 2)
        #expect(s.list(.incoming).isEmpty)
    }
}

@Suite("relay configuration and commands")
struct RelayConfigurationTests {
    @Test func relayhostAsPostfixReadsIt() throws {
        #expect(try NextHop.parse("[smtp.example.com]:587") == NextHop(host: "smtp.example.com", port: 587, mxLookup: false, key: "[smtp.example.com]:587"))
        #expect(try NextHop.parse("[10.0.0.1]") == NextHop(host: "10.0.0.1", port: 25, mxLookup: false, key: "[10.0.0.1]"))
        #expect(try NextHop.parse("example.com") == NextHop(host: "example.com", port: 25, mxLookup: true, key: "example.com"))
        #expect(try NextHop.parse("example.com:2525").port == 2525)
        #expect(throws: ConfigError.self) { _ = try NextHop.parse("[smtp.example.com:587") }
        #expect(throws: ConfigError.self) { _ = try NextHop.parse("[smtp.example.com]:x") }
        // IPv6 as Postfix writes it; the key stays as written for smtp_sasl_password_maps.
        #expect(try NextHop.parse("[ipv6:2001:db8::1]:587") == NextHop(host: "2001:db8::1", port: 587, mxLookup: false, key: "[ipv6:2001:db8::1]:587"))
        #expect(try NextHop.parse("[IPv6:::1]") == NextHop(host: "::1", port: 25, mxLookup: false, key: "[IPv6:::1]"))
    }

    @Test func saslPasswordLookupOrder() throws {
        let t = TableList([try InlineTable(argument: "{ [relay.test]:587 = u1:p1, relay.test = u2:p2 }", name: "inline")])
        #expect(try SASLCredentials.lookup(in: t, host: "relay.test", port: 587, relayhostKey: "[relay.test]:587") == SASLCredentials(username: "u1", password: "p1"))
        #expect(try SASLCredentials.lookup(in: t, host: "relay.test", port: 25, relayhostKey: nil) == SASLCredentials(username: "u2", password: "p2"))
        #expect(try SASLCredentials.lookup(in: t, host: "other.test", port: 25, relayhostKey: nil) == nil)
    }

    @Test func passwordTableReadableByOthersIsWarnedAbout() throws {
        let dir = TempDir()
        let path = dir.path + "/sasl_passwd"
        close(open(path, O_WRONLY | O_CREAT, 0o644))
        chmod(path, 0o644)
        var c = Configuration(table: StageRegistry.builtin.parameterTable)
        c.set("relayhost", "[relay.test]:587")
        c.set("smtp_sasl_auth_enable", "yes")
        c.set("smtp_sasl_password_maps", "texthash:\(path)")
        #expect(try RelayConfiguration(c).warnings.first?.contains("readable by group or others") == true)
        chmod(path, 0o600)
        #expect(try RelayConfiguration(c).warnings.isEmpty)
    }

    @Test func backoffStaysBetweenTheLimitsWithJitter() throws {
        var c = Configuration(table: StageRegistry.builtin.parameterTable)
        c.set("minimal_backoff_time", "300s")
        c.set("maximal_backoff_time", "4000s")
        let r = try RelayConfiguration(c)
        for age in [0, 100, 1000, 100_000] {
            let wait = r.nextAttempt(now: 1_000_000, arrival: 1_000_000 - age) - 1_000_000
            let base = min(max(age, 300), 4000)
            #expect(wait >= base && wait <= base + base / 4)
        }
    }

    @Test func sendmailFlags() throws {
        let o = try SendmailCommand.parse(["-t", "-i", "-f", "a@x", "-FAlice Example", "-oi", "-N", "failure,delay", "-C", "/etc/x", "--", "b@y"])
        #expect(o.extractRecipients && o.ignoreDots && o.sender == "a@x" && o.fullName == "Alice Example")
        #expect(o.notify == "FAILURE,DELAY" && o.configDirectory == "/etc/x" && o.recipients == ["b@y"])
        #expect(try SendmailCommand.parse(["-bp"]).mode == .listQueue)
        #expect(try SendmailCommand.parse(["-bi"]).mode == .newaliases)
        #expect(throws: ConfigError.self) { _ = try SendmailCommand.parse(["-N", "never,failure"]) }
        #expect(throws: ConfigError.self) { _ = try SendmailCommand.parse(["-f"]) }
    }

    @Test func bounceIsAMultipartReportWithTheOriginalHeader() throws {
        let b = BounceMessage(queueID: "ABC", hostName: "mx.test", sender: "a@x.test", arrival: 0, envid: "E1",
                              failures: [.init(recipient: "b@y.test", originalRecipient: "rfc822;b@y.test", status: .init(5, 1, 1),
                                               diagnostic: "smtp; 550 5.1.1 unknown", remoteMTA: "relay.test[127.0.0.1]")],
                              originalHeader: Array("Subject: original\r\nFrom: a@x.test\r\n".utf8)).build(now: 10)
        #expect(b.sender == "" && b.recipients == ["a@x.test"])
        let m = try Message.parse(Spool(bytes: b.data))
        #expect(m.header["Content-Type"].map { String(decoding: $0.raw, as: UTF8.self) }?.contains("report-type=delivery-status") == true)
        let text = String(decoding: b.data, as: UTF8.self)
        for line in ["Reporting-MTA: dns; mx.test", "Original-Envelope-Id: E1", "Final-Recipient: rfc822; b@y.test",
                     "Original-Recipient: rfc822;b@y.test", "Action: failed", "Status: 5.1.1",
                     "Remote-MTA: dns; relay.test[127.0.0.1]", "Diagnostic-Code: smtp; 550 5.1.1 unknown",
                     "Content-Type: text/rfc822-headers", "Subject: original"] {
            #expect(text.contains(line + "\r\n"), "missing \(line)")
        }
        #expect(!BounceMessage.wanted(sender: "", notify: nil))
        #expect(!BounceMessage.wanted(sender: "a@x", notify: "NEVER"))
        #expect(BounceMessage.wanted(sender: "a@x", notify: "FAILURE,DELAY"))
    }
}

import Testing
@testable import Pipeline

@Suite("spool and line endings")
struct SpoolTests {
    func spool(_ bytes: [UInt8], memoryLimit: Int, sizeLimit: Int = 0, chunk: Int = 7) throws -> Spool {
        var w = SpoolWriter(memoryLimit: memoryLimit, sizeLimit: sizeLimit, directory: "/tmp")
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunk)
            try w.append(Array(bytes[i..<end]))
            i = end
        }
        return w.finish()
    }

    @Test func smallMessagesStayInMemoryLargeOnesSpillToAFile() throws {
        let data = (0..<5000).map { UInt8($0 % 251) }
        let small = try spool(data, memoryLimit: 10_000)
        #expect(small.isInMemory)
        let large = try spool(data, memoryLimit: 1000)
        #expect(!large.isInMemory)
        #expect(try large.allBytes() == data)
        #expect(try large.read(offset: 4990, count: 100) == Array(data[4990...]))
        var streamed: [UInt8] = []
        try large.forEachChunk(from: 10, chunkSize: 333) { streamed.append(contentsOf: $0) }
        #expect(streamed == Array(data[10...]))
    }

    @Test func sizeLimitStopsSpooling() throws {
        #expect(throws: MessageTooLarge.self) {
            _ = try spool(Array(repeating: 65, count: 2000), memoryLimit: 100, sizeLimit: 1500)
        }
        let exact = try spool(Array(repeating: 65, count: 1500), memoryLimit: 100, sizeLimit: 1500)
        #expect(exact.size == 1500)
    }

    /// Chunking must not matter: CRLF split across writes, in random places, gives the same bytes.
    @Test func lineFeedNormalizerIgnoresChunkBoundaries() throws {
        let input = Array("a\r\nb\rc\r\r\n\r\n\n\rend\r".utf8)
        let expected = Array("a\nb\rc\r\n\n\n\rend\r".utf8)
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<300 {
            var sink = LineFeedNormalizer(BufferSink())
            var i = 0
            while i < input.count {
                let n = trial == 0 ? 1 : trial == 1 ? input.count : Int.random(in: 1...5, using: &rng)
                let end = min(input.count, i + n)
                try Array(input[i..<end]).withUnsafeBytes { try sink.write($0) }
                i = end
            }
            try sink.finish()
            #expect(sink.inner.bytes == expected)
            #expect(sink.bytesWritten == expected.count)
            #expect(sink.lineFeeds == expected.filter { $0 == 10 }.count)
        }
    }
}

@Suite("delivery status")
struct DeliveryStatusTests {
    @Test(arguments: [
        ("2.0.0", SysExit.ok), ("4.2.2", .tempFail), ("4.3.0", .tempFail), ("5.1.1", .noUser),
        ("5.7.1", .noPermission), ("5.3.4", .dataError), ("5.4.6", .unavailable), ("5.2.2", .cantCreate),
    ])
    func exitCodesPostfixUnderstands(code: String, exit: SysExit) throws {
        let status = try #require(EnhancedStatus(code))
        #expect(SysExit.forStatus(status) == exit)
        #expect(status.description == code)
    }

    @Test(arguments: ["", "5", "5.1", "6.1.1", "5.1.1.1", "5.a.1", "55.1.1", "5.1234.1"])
    func malformedCodesAreRefused(_ text: String) {
        #expect(EnhancedStatus(text) == nil)
    }

    @Test func errnoMapsToTemporaryMailboxStatuses() {
        let full = DeliveryStatus.mailbox(SystemError("write", path: "/x", errno: 28 /* ENOSPC */), doing: "write")
        #expect(full.status == .systemFull)
        let quota = DeliveryStatus.mailbox(SystemError("write", path: "/x", errno: 122 /* EDQUOT */), doing: "write")
        #expect(quota.status == .mailboxFull)
        let perm = DeliveryStatus.mailbox(SystemError("open", path: "/x", errno: 13 /* EACCES */), doing: "open")
        #expect(perm.status.isTemporary)
        #expect(!perm.text.contains("/x"), "the path is for the log, not the client")
        #expect(perm.reason.contains("/x"))
    }

    @Test func maillogFormats() {
        #expect(Maillog.formatDelay(0) == "0")
        #expect(Maillog.formatDelay(0.004) == "0")
        #expect(Maillog.formatDelay(0.061) == "0.06")
        #expect(Maillog.formatDelay(0.1) == "0.1")
        #expect(Maillog.formatDelay(1.23) == "1.2")
        #expect(Maillog.formatDelay(12.6) == "13")
        let line = Maillog.recipientLine(queueID: "ABC123", to: "b@x", originalTo: "a@x", relay: "local",
                                         delay: 0.12, delays: (0.01, 0.1, 0, 0.01),
                                         status: DeliveryStatus(.delivered, "delivered to maildir"), outcome: "sent")
        #expect(line == "ABC123: to=<b@x>, orig_to=<a@x>, relay=local, delay=0.12, delays=0.01/0.1/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)")
    }

    @Test func queueIDsAreUpperHexAndDistinct() {
        let ids = (0..<20).map { _ in QueueID.make() }
        #expect(Set(ids).count == 20)
        #expect(ids.allSatisfy { $0.count == 12 && $0.allSatisfy { "0123456789ABCDEF".contains($0) } })
    }
}

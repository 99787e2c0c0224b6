import Testing
@testable import Plugins

@Suite("DNS messages for MX, A and AAAA lookups")
struct DNSMessageTests {
    @Test func queryHasTheQuestion() {
        let q = DNSMessage.query(id: 0x1234, name: "example.net", type: .mx)
        #expect(q == [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7] + Array("example".utf8) + [3] + Array("net".utf8) + [0, 0, 15, 0, 1])
    }

    @Test func answersWithCompressionPointersAreRead() throws {
        var m: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        m += [7] + Array("example".utf8) + [3] + Array("net".utf8) + [0, 0, 15, 0, 1]
        // MX 10 mx.<pointer to example.net at 12>
        m += [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2] + Array("mx".utf8) + [0xC0, 12]
        m += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]
        let r = try DNSMessage.parse(m)
        #expect(r.id == 0x1234 && r.rcode == 0)
        #expect(r.answers == [.mx(preference: 10, exchange: "mx.example.net"), .a("127.0.0.1")])
    }

    @Test func loopsAndTruncationAreErrorsNotHangs() {
        var m: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0]
        m += [0xC0, 12]  // a name pointing at itself
        #expect(throws: DNSMessage.FormatError.self) { _ = try DNSMessage.parse(m) }
        #expect(throws: DNSMessage.FormatError.self) { _ = try DNSMessage.parse([0, 1, 2]) }
        #expect(throws: DNSMessage.FormatError.self) { _ = try DNSMessage.parse([0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 5, 65]) }
    }

    /// AAAA records in RFC 5952's text form, and the TC bit that sends the question to TCP.
    @Test func aaaaAnswersAndTheTruncationFlag() throws {
        var m: [UInt8] = [0, 7, 0x83, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]
        m += [2] + Array("mx".utf8) + [4] + Array("test".utf8) + [0, 0, 28, 0, 1]
        for address: [UInt8] in [[0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1],
                                 Array(repeating: 0, count: 15) + [1],
                                 [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]] {
            m += [0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16] + address
        }
        let r = try DNSMessage.parse(m)
        #expect(r.answers == [.aaaa("2001:db8::1"), .aaaa("::1"), .aaaa("2001:db8::1:0:0:1")])
        #expect(r.truncated)
        m[2] = 0x81
        #expect(try !DNSMessage.parse(m).truncated)
    }
}

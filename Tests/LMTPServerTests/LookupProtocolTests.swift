import Testing
@testable import LMTPServer

@Suite("policy and socketmap framing")
struct LookupProtocolTests {
    static let policyRequest = Array("request=smtpd_access_policy\nprotocol_state=RCPT\r\nrecipient=alice@example.com\nsender=s@x\n\nrequest=smtpd_access_policy\nrecipient=b@y\n\n".utf8)

    @Test func policyRequestsAreTheSameWholeOrByteByByte() throws {
        var whole = PolicyDecoder()
        let all = try whole.feed(Self.policyRequest)
        #expect(all.count == 2)
        #expect(all[0]["recipient"] == "alice@example.com" && all[0]["protocol_state"] == "RCPT" && all[0]["sender"] == "s@x")
        #expect(all[1]["recipient"] == "b@y")
        var bytewise = PolicyDecoder()
        var pieces: [[String: String]] = []
        for b in Self.policyRequest { pieces += try bytewise.feed([b]) }
        #expect(pieces == all)
    }

    @Test func anEndlessPolicyLineOrRequestIsRefused() {
        var d = PolicyDecoder()
        #expect(throws: PolicyDecoder.Overflow.self) { _ = try d.feed([UInt8](repeating: 65, count: 5000)) }
        var many = PolicyDecoder()
        let lines = (0..<200).map { "a\($0)=x\n" }.joined()
        #expect(throws: PolicyDecoder.Overflow.self) { _ = try many.feed(Array(lines.utf8)) }
    }

    @Test func netstringsAreTheSameWholeOrByteByByte() throws {
        let input = Array("22:recipients alice@x.org,3:a b,0:,".utf8)
        var whole = NetstringDecoder()
        let all = try whole.feed(input)
        #expect(all.map { String(decoding: $0, as: UTF8.self) } == ["recipients alice@x.org", "a b", ""])
        var bytewise = NetstringDecoder()
        var pieces: [[UInt8]] = []
        for b in input { pieces += try bytewise.feed([b]) }
        #expect(pieces == all)
        #expect(NetstringDecoder.encode("OK x") == Array("4:OK x,".utf8))
    }

    @Test(arguments: ["x:abc,", "3:abcd", "99999999999:", "-1:a,", "200000:"])
    func malformedNetstringsAreRefused(text: String) {
        var d = NetstringDecoder()
        #expect(throws: NetstringDecoder.Malformed.self) { _ = try d.feed(Array(text.utf8)) }
    }
}

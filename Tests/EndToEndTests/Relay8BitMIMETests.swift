import Foundation
import Pipeline
import Testing

/// A relay that does not announce 8BITMIME: mdad drops BODY=8BITMIME and sends MIME text
/// parts as quoted-printable, which the receiver decodes to the original text; mail that is
/// not MIME goes out as it is (as Postfix sends it).
@Suite("relay: 7-bit downgrade for a server without 8BITMIME", .serialized)
struct Relay8BitMIMETests {
    static let text = "Grüße aus Köln — naïve café.\n" + String(repeating: "ünïcödé ", count: 20) + "\nend\n"

    @Test func eightBitTextIsDowngradedAndDecodesToTheOriginal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-8bit-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try ScriptedSMTPServer(directory: dir, arguments: ["--no-8bitmime"])
        let c = try NullClient(relayhost: "[127.0.0.1]:\(s.port)")
        try c.start()
        defer { c.stop(); s.stop() }
        let mime = "Subject: Grüße\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + Self.text
        #expect(try c.sendmail(["-f", "alice@example.test", "mime@example.net"], mime).status == 0)
        #expect(try c.sendmail(["-f", "alice@example.test", "plain@example.net"], "Subject: unlabeled\n\ncafé\n").status == 0)
        #expect(waitUntil(20) { s.received.count == 2 }, "\(c.log)")
        #expect(!s.commands.contains("BODY=8BITMIME"), "\(s.commands)")
        let got = try #require(s.received.first { $0.to == ["mime@example.net"] })
        let data = Array(got.data.utf8)
        let message = try Message.parse(Spool(bytes: data))
        #expect(!data[message.bodyOffset...].contains { $0 >= 0x80 }, "the body is 7-bit")
        #expect(message.header["Content-Transfer-Encoding"]?.value.trimmingWhitespace() == "quoted-printable")
        #expect(got.data.contains("Subject: Grüße"), "the header is left as it is")
        let structure = try MIMEStructure.parse(message)
        let decoded = String(decoding: try structure.decodedBody(of: structure.root).bytes, as: UTF8.self)
        #expect(decoded.replacingOccurrences(of: "\r\n", with: "\n") == Self.text)
        let plain = try #require(s.received.first { $0.to == ["plain@example.net"] })
        #expect(plain.data.contains("café"), "unlabeled 8-bit mail is sent as it is")
    }
}

import Foundation
import Testing

/// Postfix asks mdad at SMTP time: `virtual_mailbox_maps = socketmap:…:recipients` makes
/// Postfix's smtpd refuse unknown users itself, and `check_policy_service` refuses a recipient
/// whose mailbox is full, both before Postfix accepts the message; a known recipient with room
/// is accepted and delivered over LMTP.
@Suite("Postfix asks mdad: socketmap and policy service", .serialized)
struct PostfixLookupTests {
    @Test func unknownAndFullRecipientsAreRefusedAtRCPT() throws {
        let policyPort = try freeLoopbackPort(), socketmapPort = try freeLoopbackPort()
        let server = try LMTPInstance(extraMainCF: """
            quota_maps = inline:{ alice@example.com=messages=1 }
            policy_listen = inet:127.0.0.1:\(policyPort)
            socketmap_listen = inet:127.0.0.1:\(socketmapPort)
            """)
        defer { server.cleanup() }
        // Fill alice's mailbox directly over LMTP.
        let filled = try server.client("raw-rcpts", stdin: "alice@example.com\n")
        #expect((filled["replies"] as? [String])?.first?.hasPrefix("250") == true)
        let postfix = try PostfixInstance(mdadMainCF: "", postfixMainCF: """
            virtual_mailbox_domains = example.com
            virtual_mailbox_maps = socketmap:inet:127.0.0.1:\(socketmapPort):recipients
            virtual_transport = lmtp:inet:127.0.0.1:\(server.port)
            smtpd_recipient_restrictions = reject_unlisted_recipient, check_policy_service inet:127.0.0.1:\(policyPort), permit_mynetworks, reject_unauth_destination
            """)
        defer { postfix.stop() }
        func rcpt(_ to: String) throws -> String {
            let r = try postfix.run("/usr/bin/swaks", ["--server", "127.0.0.1:\(postfix.port)", "--from", "s@example.org", "--to", to,
                                                      "--quit-after", "RCPT", "--helo", "client.example.test"])
            // swaks shows the dialogue: the reply after "RCPT TO" is the one that matters.
            let lines = r.output.split(separator: "\n").map(String.init)
            guard let i = lines.firstIndex(where: { $0.contains("RCPT TO:") }), i + 1 < lines.count else { return r.output }
            return lines[i + 1]
        }
        let unknown = try rcpt("nobody@example.com")
        #expect(unknown.contains("550 5.1.1"), "socketmap: \(unknown)")
        let full = try rcpt("alice@example.com")
        #expect(full.contains("452 4.2.2"), "policy: \(full)")
        let fine = try rcpt("bob@example.com")
        #expect(fine.contains("250"), "\(fine)")
        // And a real message to bob goes through Postfix to mdad over LMTP.
        let before = server.files("bob").count
        let id = try postfix.send(from: "s@example.org", to: "bob@example.com", subject: "through Postfix")
        let line = try postfix.deliveryLine(id, agent: "lmtp")
        #expect(line.contains("status=sent"), "\(line)")
        #expect(server.files("bob").count == before + 1)
    }
}

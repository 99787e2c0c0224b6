import Testing
import PipelineTestKit
@testable import Pipeline
@testable import Plugins

/// The milter session as transcripts: what mdad sends, what a milter answers, the outcome.
/// Every transcript is replayed whole, byte by byte and in random splits (chunking must not matter).
@Suite("milter session transcripts")
struct MilterSessionTests {
    static func reply(_ code: Character, _ data: [UInt8] = []) -> [UInt8] {
        Milter.packet(UInt8(ascii: code.unicodeScalars.first!), data)
    }

    static func negotiate(actions: Milter.Actions = .supported, steps: Milter.Steps = []) -> [UInt8] {
        var d: [UInt8] = []
        Milter.appendUInt32(&d, 6)
        Milter.appendUInt32(&d, actions.rawValue)
        Milter.appendUInt32(&d, steps.rawValue)
        return reply("O", d)
    }

    /// Commands in what mdad sent, macros left out.
    static func commands(_ bytes: [UInt8]) -> [Character] {
        var out: [Character] = []
        var i = 0
        while i + 5 <= bytes.count {
            let len = Int(Milter.uint32(bytes[i..<i + 4])!)
            if bytes[i + 4] != Milter.Command.macro.rawValue { out.append(Character(Unicode.Scalar(bytes[i + 4]))) }
            i += 4 + len
        }
        return out
    }

    /// Plays a milter that answers each step that waits with the next of `answers`.
    static func play(_ envelope: MilterSession.Envelope, negotiation: [UInt8], answers: [[UInt8]],
                     split: (Int) -> [Int]) throws -> (sent: [UInt8], outcome: MilterSession.Outcome?) {
        var session = MilterSession(envelope)
        var sent = session.start()
        var script = [negotiation] + answers
        var outcome: MilterSession.Outcome?
        while !script.isEmpty, outcome == nil {
            let packet = script.removeFirst()
            var pos = 0
            for size in split(packet.count) where outcome == nil {
                for a in try session.receive(packet[pos..<min(packet.count, pos + size)]) {
                    switch a {
                    case .send(let b): sent += b
                    case .finished(let o): outcome = o
                    }
                }
                pos += size
            }
        }
        return (sent, outcome)
    }

    static let splits: [(String, @Sendable (Int) -> [Int])] = [
        ("whole", { [$0] }),
        ("byte by byte", { Array(repeating: 1, count: $0) }),
        ("random", { n in
            var g = SystemRandomNumberGenerator(); var left = n; var out: [Int] = []
            while left > 0 { let k = Int.random(in: 1...max(1, min(left, 7)), using: &g); out.append(k); left -= k }
            return out
        }),
    ]

    func envelope(_ text: String = "Subject: hi\nFrom: a@example.com\n\nline\n", to: [String] = ["r@x.example"]) throws -> MilterSession.Envelope {
        .init(queueID: "ABC123", hostName: "mx.example", sender: "s@example.com", recipients: to,
              message: try Message.literal(text))
    }

    @Test func fullConversationWithEveryModification() throws {
        var replace: [UInt8] = []
        replace += Array("new body\r\n".utf8)
        var ins: [UInt8] = []; Milter.appendUInt32(&ins, 0); ins += Milter.cString("X-Top") + Milter.cString("first")
        var chg: [UInt8] = []; Milter.appendUInt32(&chg, 1); chg += Milter.cString("Subject") + Milter.cString("")
        let c = Self.reply("c")
        // connect, helo, mail, rcpt, data, 2 headers, eoh, body, then eom's modifications.
        let answers = Array(repeating: c, count: 9) + [
            Self.reply("h", Milter.cString("X-Added") + Milter.cString("yes")),
            Self.reply("i", ins), Self.reply("m", chg),
            Self.reply("b", replace),
            Self.reply("+", Milter.cString("<extra@x.example>")),
            Self.reply("-", Milter.cString("<r@x.example>")),
            Self.reply("e", Milter.cString("<bounce@example.com>")),
            Self.reply("q", Milter.cString("looks odd")),
            Self.reply("p"), c,
        ]
        for (name, split) in Self.splits {
            let (sent, outcome) = try Self.play(try envelope(), negotiation: Self.negotiate(), answers: answers, split: split)
            #expect(Self.commands(sent) == ["O", "C", "H", "M", "R", "T", "L", "L", "N", "B", "E", "Q"], "\(name)")
            let o = try #require(outcome, "\(name)")
            #expect(o.verdict == .continue)
            #expect(o.modifications == [
                .addHeader(name: "X-Added", value: "yes"), .insertHeader(index: 0, name: "X-Top", value: "first"),
                .changeHeader(index: 1, name: "Subject", value: ""), .addRecipient("extra@x.example"),
                .deleteRecipient("r@x.example"), .changeSender("bounce@example.com"), .quarantine(reason: "looks odd"),
                .replaceBody(Array("new body\r\n".utf8)),
            ], "\(name)")
        }
    }

    @Test func bodyIsSentWithCRLFAndHeadersWithoutTheirLeadingSpace() throws {
        let (sent, _) = try Self.play(try envelope("Subject: hi\n  there\n\na\nb\r\nc\n"), negotiation: Self.negotiate(),
                                      answers: Array(repeating: Self.reply("c"), count: 10), split: { [$0] })
        let text = String(decoding: sent, as: UTF8.self)
        #expect(text.contains("Subject\0hi\n  there\0"))
        #expect(text.contains("a\r\nb\r\nc\r\n"))
    }

    @Test func stepsTheMilterDeclinesAreNotSent() throws {
        let steps: Milter.Steps = [.noConnect, .noHelo, .noHeaders, .noBody, .noReplyMail, .noReplyRcpt, .noReplyData, .noReplyEndOfHeader]
        let (sent, outcome) = try Self.play(try envelope(), negotiation: Self.negotiate(steps: steps),
                                            answers: [Self.reply("c")], split: { [$0] })
        #expect(Self.commands(sent) == ["O", "M", "R", "T", "N", "E", "Q"])
        #expect(outcome?.verdict == .continue)
    }

    @Test func recipientRepliesAndMessageVerdicts() throws {
        let c = Self.reply("c")
        // The first recipient refused at RCPT, the second accepted; then a reply code at EOM.
        let answers = [c, c, c, Self.reply("r"), c, c, c, c, c, Self.reply("y", Milter.cString("554 5.7.0 policy says no"))]
        let (_, outcome) = try Self.play(try envelope(to: ["a@x", "b@x"]), negotiation: Self.negotiate(), answers: answers, split: { [$0] })
        let o = try #require(outcome)
        #expect(o.recipientReplies == [0: .reject("550 5.7.1 Command rejected")])
        #expect(o.verdict == .reject("554 5.7.0 policy says no"))
        let status = MilterStage.status(o.verdict, milter: .unix(path: "/m"))
        #expect(status.status == EnhancedStatus(5, 7, 0) && status.text == "policy says no")

        let (_, t) = try Self.play(try envelope(), negotiation: Self.negotiate(), answers: [c, Self.reply("t")], split: { [$0] })
        #expect(t?.verdict == .tempfail("451 4.7.1 Service unavailable - try again later"))
        let (_, d) = try Self.play(try envelope(), negotiation: Self.negotiate(), answers: [c, c, Self.reply("d")], split: { [$0] })
        #expect(d?.verdict == .discard)
    }

    @Test func protocolViolationsAreErrors() throws {
        var s = MilterSession(try envelope())
        #expect(throws: MilterSession.ProtocolError.self) { _ = try s.receive(Self.reply("c")) }   // no negotiation
        var big = MilterSession(try envelope())
        #expect(throws: MilterSession.ProtocolError.self) { _ = try big.receive([0x7F, 0, 0, 0, 0x63]) }
        // A modification before the end of the message, and one not negotiated.
        var early = MilterSession(try envelope())
        _ = try early.receive(Self.negotiate())
        #expect(throws: MilterSession.ProtocolError.self) { _ = try early.receive(Self.reply("h", Milter.cString("A") + Milter.cString("b"))) }
        #expect(throws: MilterSession.ProtocolError.self) {
            _ = try Self.play(try envelope(), negotiation: Self.negotiate(actions: [.addHeaders]),
                              answers: Array(repeating: Self.reply("c"), count: 9) + [Self.reply("b", [65])], split: { [$0] })
        }
    }

    @Test func stageAppliesModificationsToTheTransaction() throws {
        var tx = try Transaction.literal("Subject: hi\nFrom: a@example.com\n\nold\n", to: ["r@x.example", "keep@x.example"])
        tx.tracing = true
        let stage = MilterStage(clients: [])
        try stage.apply([.addHeader(name: "X-A", value: "1\r\n\tfolded"), .insertHeader(index: 0, name: "X-Top", value: "t"),
                         .changeHeader(index: 1, name: "Subject", value: "new"), .replaceBody(Array("a\r\nb\r\n".utf8)),
                         .addRecipient("extra@x.example"), .deleteRecipient("R@x.example"), .changeSender("b@example.com")],
                        to: &tx, milter: .unix(path: "/m"), context: .forTesting())
        var sink = BufferSink()
        try tx.message.write(to: &sink)
        #expect(String(decoding: sink.bytes, as: UTF8.self) == "X-Top: t\nSubject: new\nFrom: a@example.com\nX-A: 1\n\tfolded\n\na\nb\n")
        #expect(tx.recipients.map(\.address) == ["r@x.example", "keep@x.example", "extra@x.example"])
        #expect(tx.recipients[0].actions == [.discard])
        #expect(tx.envelope.sender == "b@example.com")
        #expect(tx.traceEvents.count == 7)
    }
}

@Suite("milter stage configuration")
struct MilterStageConfigurationTests {
    @Test func addressesAndPolicyAreCheckedAtStartUp() throws {
        var config = Configuration(table: StageRegistry.builtin.parameterTable, system: SystemInfo(hostName: "h.example"))
        config.set("pipeline", "milter")
        #expect(throws: ConfigError.self) { try StageRegistry.builtin.makeChain(config) }   // no milter_servers
        for bad in ["127.0.0.1:8891", "inet:127.0.0.1", "unix:relative/path", "inet:h:99999"] {
            config.set("milter_servers", bad)
            #expect(throws: ConfigError.self, "\(bad)") { try StageRegistry.builtin.makeChain(config) }
        }
        config.set("milter_servers", "inet:127.0.0.1:8891, unix:/run/opendkim/opendkim.sock, inet:[::1]:12")
        config.set("milter_default_action", "quarantine")
        #expect(throws: ConfigError.self) { try StageRegistry.builtin.makeChain(config) }
        config.set("milter_default_action", "accept")
        let stage = try #require(try StageRegistry.builtin.makeChain(config).steps.first?.stage as? MilterStage)
        #expect(stage.clients.map(\.endpoint) == [.inet(host: "127.0.0.1", port: 8891), .unix(path: "/run/opendkim/opendkim.sock"),
                                                  .inet(host: "::1", port: 12)])
        #expect(stage.defaultAction == .accept)
    }
}

import LMTPServer
import Pipeline
import Plugins
import Spam

/// The fuzzing entry points: each takes arbitrary bytes and drives one parser the way mdad
/// drives it, with its limits. Crashes, hangs and unbounded growth are the failures; any
/// thrown error is a parser doing its job. The same functions serve the libFuzzer build
/// (`fuzz/run.sh`, `-sanitize=fuzzer,address`) and the replay of seed corpora and past crashes
/// in the ordinary tests (Tests/FuzzTests), so CI needs no second sanitizer build.
public enum FuzzTargets {
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "lmtp": lmtp,
        "message": message,
        "address": address,
        "maincf": mainCF,
        "aliases": aliases,
        "policy": policy,
        "netstring": netstring,
        "sieve": sieve,
        "procmailrc": procmailrc,
        "spamrules": spamRules,
        "smtpreply": smtpReply,
        "milter": milter,
        "spamd": spamd,
        "rspamd": rspamd,
        "srs": srs,
        "sendmailbs": sendmailBS,
    ]

    /// `sendmail -bs`: the session fed line by line (ESMTP parameters, DATA, dot-stuffing),
    /// with a size limit, as `mdad sendmail -bs` drives it.
    public static func sendmailBS(_ data: [UInt8]) {
        var session = SendmailSMTPSession(hostName: "fuzz.example", origin: "fuzz.example", sizeLimit: 100_000)
        for line in data.split(separator: 10, omittingEmptySubsequences: false) {
            var l = Array(line.prefix(4096))
            if l.last == 13 { l.removeLast() }
            if case .quit = session.receive(l) { return }
        }
    }

    /// An rspamd reply as the rspamd stage reads it: the HTTP framing, then the JSON.
    public static func rspamd(_ data: [UInt8]) {
        let bytes = Array(data.prefix(1 << 16))
        if let (_, body) = try? RspamdProtocol.parseHTTP(bytes) { _ = try? RspamdProtocol.parse(json: body) }
        _ = try? RspamdProtocol.parse(json: bytes)
    }

    static let srsSigner = SRS(domain: "forwarder.example", secrets: [Array("fuzz secret".utf8), Array("older".utf8)])

    /// SRS addresses as the `srs` stage reverses them, and senders as forwards rewrite them:
    /// whatever we signed must reverse to what it was.
    public static func srs(_ data: [UInt8]) {
        let text = String(decoding: data.prefix(2048), as: UTF8.self)
        let now = 1_800_000_000
        _ = try? srsSigner.reverse(text, now: now)
        guard let forwarded = srsSigner.forward(text, now: now), !text.uppercased().hasPrefix("SRS") else { return }
        let back = try? srsSigner.reverse(forwarded, now: now)
        precondition(back == text, "SRS round trip: \(text) -> \(forwarded) -> \(String(describing: back))")
    }

    /// The message a fuzzed milter is asked about.
    static let milterEnvelope: MilterSession.Envelope? = {
        guard let m = try? Message.parse(Spool(bytes: Array("From: a@example.com\nTo: r@x.example\nSubject: hi\n\nline one\nline two\n".utf8)))
        else { return nil }
        return MilterSession.Envelope(queueID: "FUZZ1", hostName: "fuzz.example", sender: "a@example.com",
                                      recipients: ["r@x.example", "s@x.example"], message: m)
    }()

    /// What a milter says, in input-chosen chunks, to a session that has sent its negotiation:
    /// the option negotiation, replies to each step, modification requests and the verdict.
    public static func milter(_ data: [UInt8]) { _ = milterOutcome(data) }

    /// The outcome the milter conversation in `data` reaches, or nil (a protocol error, or the
    /// input ended first); the replay tests use it to check that the seeds reach the end.
    public static func milterOutcome(_ data: [UInt8]) -> MilterSession.Outcome? {
        guard let envelope = milterEnvelope else { return nil }
        var session = MilterSession(envelope, bodyLimit: 1 << 16)
        _ = session.start()
        var i = 0
        while i < data.count {
            let size = Int(data[i] % 64) + 1
            guard let actions = try? session.receive(data[(i + 1)..<min(data.count, i + 1 + size)]) else { return nil }
            for case .finished(let outcome) in actions { return outcome }
            i += size + 1
        }
        return nil
    }

    /// A spamd reply as the spamd stage reads it: status line, headers, and the SYMBOLS and
    /// PROCESS bodies.
    public static func spamd(_ data: [UInt8]) {
        guard let reply = try? SpamdProtocol.parse(Array(data.prefix(1 << 16))) else { return }
        _ = reply.symbols
        _ = reply.spamHeaders
    }

    /// A Sieve script through the lexer, parser and compiler (includes have nowhere to come from).
    public static func sieve(_ data: [UInt8]) {
        _ = try? SieveLoader.compile(data, name: "fuzz", includes: SieveIncludeLocations(personal: nil, global: nil))
    }

    /// A procmailrc through the parser (conditions translated to PCRE2 on the way).
    public static func procmailrc(_ data: [UInt8]) {
        _ = try? ProcmailParser.parse(data, file: "fuzz-procmailrc")
    }

    /// SpamAssassin rule-file text through the reader and the rule compiler.
    public static func spamRules(_ data: [UInt8]) {
        _ = RuleSet.parse(String(decoding: data.prefix(1 << 16), as: UTF8.self), name: "fuzz.cf")
    }

    /// SMTP replies as the client reads them, in input-chosen chunks.
    public static func smtpReply(_ data: [UInt8]) {
        var parser = SMTPReplyParser()
        var i = 0
        while i < data.count {
            let size = Int(data[i] % 64) + 1
            guard (try? parser.feed(data[i..<min(data.count, i + size)])) != nil else { return }
            i += size
        }
    }

    /// The LMTP session, fed in chunks whose sizes come from the input itself; every question
    /// the session asks is answered (recipients alternately accepted and refused, messages
    /// delivered), so every state is reachable.
    public static func lmtp(_ data: [UInt8]) {
        var session = LMTPSession(settings: .init(hostName: "fuzz.example", messageSizeLimit: 100_000, recipientLimit: 50),
                                  client: "fuzz")
        var pending = session.start()
        var i = 0, turn = 0
        while i < data.count || !pending.isEmpty {
            var next: [LMTPSession.Action] = []
            for action in pending {
                switch action {
                case .checkRecipient:
                    turn += 1
                    next += session.recipientChecked(turn % 3 == 0 ? .refuse(DeliveryStatus(.unknownUser, "unknown")) : .accept)
                case .endMessage(let envelope):
                    next += session.messageDelivered(envelope.recipients.map { _ in DeliveryStatus(.delivered, "ok") })
                case .close:
                    return
                default:
                    break
                }
            }
            pending = next
            if pending.isEmpty && i < data.count {
                let size = Int(data[i] % 64) + 1
                pending = session.receive(Array(data[i..<min(data.count, i + size)]))
                i += size
            }
        }
        _ = session.disconnected()
    }

    /// The message model: header split, MIME structure, decoding and the text views.
    public static func message(_ data: [UInt8]) {
        guard let m = try? Message.parse(Spool(bytes: data)) else { return }
        for field in m.header.fields.prefix(200) {
            _ = field.value
            _ = EncodedWord.decode(field.value)
        }
        guard let structure = try? MIMEStructure.parse(m) else { return }
        _ = try? MessageText(message: m, structure: structure)
    }

    /// Address lists, and writing them back (the writer must accept what the parser gives).
    public static func address(_ data: [UInt8]) {
        let list = AddressList.parse(data)
        if let field = try? HeaderField(name: "To", value: String(decoding: data.prefix(4096).filter { $0 != 10 && $0 != 13 }, as: UTF8.self)) {
            _ = AddressWriter.rewrite(field) { $0 }
        }
        _ = AddressWriter.build(name: "Cc", list)
    }

    public static func mainCF(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        guard let parsed = try? MainCF.parse(text, file: "fuzz.cf") else { return }
        var config = Configuration(system: SystemInfo(hostName: "fuzz.example"))
        for e in parsed.entries.prefix(100) { config.set(e.name, e.value) }
        for e in parsed.entries.prefix(100) { _ = try? config.string(e.name) }
    }

    public static func aliases(_ data: [UInt8]) {
        let parsed = AliasesFile.parse(bytes: data, file: "fuzz-aliases")
        for e in parsed.entries.prefix(100) { _ = AliasesFile.valueItems(e.value) }
    }

    public static func policy(_ data: [UInt8]) {
        var d = PolicyDecoder()
        var i = 0
        while i < data.count {
            let size = Int(data[i] % 32) + 1
            guard (try? d.feed(Array(data[i..<min(data.count, i + size)]))) != nil else { return }
            i += size
        }
    }

    public static func netstring(_ data: [UInt8]) {
        var d = NetstringDecoder()
        _ = try? d.feed(data)
    }
}

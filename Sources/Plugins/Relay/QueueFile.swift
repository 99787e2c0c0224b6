import Pipeline

/// One queued message: its envelope, each recipient's state, and the message itself, in one
/// file (as Postfix keeps one queue file per message).
///
/// The file is text up to an empty line, then the message bytes:
///
///     MDADQ1
///     arrival=1764040000
///     sender=alice@example.com
///     envid=…                      (optional, DSN ENVID)
///     ret=HDRS                     (optional, DSN RET)
///     rcpt=P NOTIFY ORCPT ADDRESS  (one per recipient; NOTIFY and ORCPT are "-" when absent)
///     size=1234
///
///     <message>
///
/// A recipient's state is the one byte after `rcpt=`: `P` pending, `D` done (sent or
/// bounced). It is changed in place, one byte, then fsynced, as Postfix marks a recipient
/// done; so a crash loses at most the mark of a recipient the server had just accepted.
public struct QueueFile: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        public var address: String
        /// DSN ORCPT as given (`rfc822;addr`), or nil.
        public var originalRecipient: String?
        /// DSN NOTIFY (`SUCCESS,FAILURE,DELAY`, `NEVER`), or nil.
        public var notify: String?
        public var done: Bool
        /// Where the state byte is in the file (set when read).
        public var stateOffset: Int = 0

        public init(address: String, originalRecipient: String? = nil, notify: String? = nil, done: Bool = false) {
            self.address = address
            self.originalRecipient = originalRecipient
            self.notify = notify
            self.done = done
        }
    }

    public var arrival: Int
    /// The envelope sender; empty for `<>`.
    public var sender: String
    public var envid: String?
    public var ret: String?
    public var recipients: [Recipient]
    public var messageSize: Int
    /// Where the message starts in the file.
    public var messageOffset: Int = 0

    public static let magic = "MDADQ1"
    /// The envelope part is small; a longer one is not a queue file.
    public static let envelopeLimit = 4 << 20

    public init(arrival: Int, sender: String, envid: String? = nil, ret: String? = nil, recipients: [Recipient], messageSize: Int) {
        self.arrival = arrival
        self.sender = sender
        self.envid = envid
        self.ret = ret
        self.recipients = recipients
        self.messageSize = messageSize
    }

    public var pending: [Recipient] { recipients.filter { !$0.done } }

    /// The envelope lines and the empty line before the message.
    public func encodeEnvelope() -> [UInt8] {
        var t = "\(Self.magic)\narrival=\(arrival)\nsender=\(sender)\n"
        if let envid { t += "envid=\(envid)\n" }
        if let ret { t += "ret=\(ret)\n" }
        for r in recipients {
            t += "rcpt=\(r.done ? "D" : "P") \(r.notify ?? "-") \(r.originalRecipient ?? "-") \(r.address)\n"
        }
        t += "size=\(messageSize)\n\n"
        return Array(t.utf8)
    }

    /// Whether a value can go on an envelope line: no line breaks, no NUL, and (for the words
    /// before the address) no spaces.
    public static func isSafe(_ value: String, word: Bool = false) -> Bool {
        !value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || (word && $0 == " ") }
    }

    /// Reads the envelope from the start of a file's bytes; the message starts at `messageOffset`.
    public static func decode(_ bytes: some Collection<UInt8>) throws(QueueFileError) -> QueueFile {
        var lines: [(text: String, offset: Int)] = []
        var start = 0, i = 0, end: Int?
        for b in bytes {
            if i > envelopeLimit { throw QueueFileError("envelope longer than \(envelopeLimit) bytes") }
            if b == 10 {
                if i == start { end = i + 1; break }
                lines.append((String(decoding: bytes.dropFirst(start).prefix(i - start), as: UTF8.self), start))
                start = i + 1
            }
            i += 1
        }
        guard let messageStart = end else { throw QueueFileError("no end of envelope") }
        guard lines.first?.text == magic else { throw QueueFileError("not a queue file (no \(magic) line)") }
        var arrival: Int?, sender: String?, size: Int?
        var f = QueueFile(arrival: 0, sender: "", recipients: [], messageSize: 0)
        for (n, line) in lines.dropFirst().enumerated() {
            guard let eq = line.text.firstIndex(of: "=") else { throw QueueFileError("line \(n + 2): expected name=value") }
            let name = line.text[..<eq], value = String(line.text[line.text.index(after: eq)...])
            switch name {
            case "arrival": arrival = Int(value)
            case "sender": sender = value
            case "envid": f.envid = value
            case "ret": f.ret = value
            case "size": size = Int(value)
            case "rcpt":
                let w = value.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard w.count == 4, w[0] == "P" || w[0] == "D", !w[3].isEmpty else {
                    throw QueueFileError("line \(n + 2): expected rcpt=P|D NOTIFY ORCPT ADDRESS")
                }
                var r = Recipient(address: String(w[3]), originalRecipient: w[2] == "-" ? nil : String(w[2]),
                                  notify: w[1] == "-" ? nil : String(w[1]), done: w[0] == "D")
                r.stateOffset = line.offset + 5
                f.recipients.append(r)
            default: throw QueueFileError("line \(n + 2): unknown record \(name)")
            }
        }
        guard let arrival, let sender, let size else { throw QueueFileError("arrival, sender or size missing") }
        f.arrival = arrival
        f.sender = sender
        f.messageSize = size
        f.messageOffset = messageStart
        return f
    }
}

public struct QueueFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

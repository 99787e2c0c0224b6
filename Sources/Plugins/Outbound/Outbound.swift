import Pipeline

/// Where outbound mail goes: forwards, Sieve redirects and vacation replies, procmail `!`.
///
/// Behind Postfix the message is handed back to Postfix through `sendmail_path`, as Dovecot
/// does; the relay issue adds mdad's own queue as a second transport behind this protocol.
public protocol OutboundTransport: Sendable {
    /// Hands the message over; returns once the next hop has taken responsibility for it
    /// (Postfix's sendmail exits 0 only after the message is in its queue). Throws a
    /// ``DeliveryStatus`` otherwise.
    func send(sender: String, recipients: [String], prepending: [HeaderField], message: Message) throws(DeliveryStatus)
    /// The same for a message built in memory (vacation replies, notifications).
    func send(_ message: OutboundMessage) throws(DeliveryStatus)
}

/// Postfix's (or any) `sendmail` program: `sendmail_path -i -f SENDER -- RECIPIENT…`.
public struct SendmailTransport: OutboundTransport {
    /// The program and its own arguments (`sendmail_path` may carry some, e.g. `-C /etc/postfix-out`).
    public let command: [String]
    public let timeout: Double

    public init(sendmailPath: String, timeout: Double = 300) throws(ConfigError) {
        let words = sendmailPath.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let program = words.first, program.hasPrefix("/") else {
            throw ConfigError("sendmail_path = \(sendmailPath): expected an absolute path to a sendmail program")
        }
        command = [program] + words.dropFirst()
        self.timeout = timeout
    }

    public init(configuration config: Configuration) throws(ConfigError) {
        try self.init(sendmailPath: try config.string("sendmail_path"))
    }

    public func send(sender: String, recipients: [String], prepending: [HeaderField], message: Message) throws(DeliveryStatus) {
        // sendmail reads lines ending in LF (with -i, a lone dot is not the end).
        try run(sender: sender, recipients: recipients) { sink in
            var lf = LineFeedNormalizer(sink)
            try message.write(prepending: prepending, to: &lf)
            sink = lf.inner
        }
    }

    public func send(_ message: OutboundMessage) throws(DeliveryStatus) {
        let data = message.data
        try run(sender: message.sender, recipients: message.recipients) { sink in try sink.write(data) }
    }

    func run(sender: String, recipients: [String], input: @escaping @Sendable (inout FileSink) throws -> Void) throws(DeliveryStatus) {
        guard !recipients.isEmpty else { return }
        for a in [sender] + recipients where !Self.isSafe(a) {
            throw DeliveryStatus(.init(5, 1, 3), "bad address syntax", reason: "refusing to send to or from \"\(a)\": control characters or a leading dash")
        }
        let argv = command + ["-i", "-f", sender, "--"] + recipients
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(argv, environment: ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C"],
                                        options: .init(timeout: timeout, captureOutput: false), input: input)
        } catch {
            throw DeliveryStatus(.temporaryFailure, "cannot send mail", reason: "\(command[0]): \(error)")
        }
        guard result.exitCode == 0 else {
            let why = result.firstErrorLine.isEmpty ? result.summary : "\(result.summary): \(result.firstErrorLine)"
            // sendmail's exit codes follow sysexits; a signal or a timeout is temporary.
            let status = result.exitCode.map { SysExit.meaning(ofExitCode: $0).status } ?? .temporaryFailure
            throw DeliveryStatus(status, "cannot send mail: \(command[0]) failed",
                                 reason: "\(command[0]) failed (\(why))")
        }
    }

    /// Addresses go on a command line: no control characters, no leading dash.
    static func isSafe(_ address: String) -> Bool {
        !address.hasPrefix("-") && !address.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

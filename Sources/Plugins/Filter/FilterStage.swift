#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Runs an external program over the message: the message on its standard input, the
/// (possibly changed) message on its standard output.
///
///     pipeline = filter, aliases, rules
///     filter_command = /usr/local/bin/strip-attachments --keep pdf
///     filter_timeout = 30s
///
/// The program gets no shell: `filter_command` is split into words (single and double quotes
/// group, a backslash escapes the next character, nothing is expanded). Whoever wants a shell
/// names it: `filter_command = /bin/sh -c "tr a-z A-Z | cat"`. Its environment is fixed (PATH,
/// LANG, SENDER, RECIPIENT, QUEUE_ID), nothing is inherited from the daemon.
///
/// Its exit code decides, as with Postfix's pipe(8) and sysexits.h:
/// - 0: go on with the message it wrote (empty output counts as a failure, not as "no change";
///   a program that wants no change copies its input);
/// - 75 (EX_TEMPFAIL): every pending recipient is deferred;
/// - 67, 69, 77 (EX_NOUSER, EX_UNAVAILABLE, EX_NOPERM): rejected with 5.7.1 and the first line
///   the program wrote on standard error;
/// - `filter_discard_code` (when not 0): the message is dropped for every pending recipient;
/// - anything else, a signal, the timeout, or output over `filter_size_limit`: the program
///   failed, and `filter_failure_policy` says what happens (`tempfail` defers, `continue` goes
///   on with the message unchanged).
///
/// A message larger than `filter_size_limit` is not given to the program at all (as spamc skips
/// large messages): the chain goes on with it unchanged.
public struct FilterStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("filter_command", .string, default: "",
              "The program the filter stage runs, with its arguments (no shell unless named, e.g. /bin/sh -c \"...\")."),
        .init("filter_timeout", .time, default: "60s",
              "How long the filter program may run before it is killed (then filter_failure_policy applies)."),
        .init("filter_size_limit", .size, default: "10240000",
              "Messages larger than this are not filtered; filter output larger than this is a failure."),
        .init("filter_discard_code", .integer, default: "0",
              "An exit code of the filter program that means: drop the message (0 = none)."),
        .init("filter_failure_policy", .string, default: "tempfail",
              "What a crash, timeout or bad output of the filter program does: tempfail (defer) or continue (unchanged)."),
    ]

    public enum FailurePolicy: String, Sendable { case tempfail, `continue` }

    public let argv: [String]
    public let timeout: Double
    public let sizeLimit: Int
    public let discardCode: Int32
    public let failurePolicy: FailurePolicy

    public init(configuration config: Configuration) throws {
        let command = try config.string("filter_command")
        let words: [String]
        do {
            words = try CommandWords.split(command)
        } catch {
            throw config.error("filter_command", "\(error)")
        }
        guard let first = words.first else {
            throw config.error("filter_command", "filter_command is empty; expected the filter program's path and arguments")
        }
        guard let program = Subprocess.locate(first), access(program, X_OK) == 0 else {
            throw config.error("filter_command", "filter program \"\(first)\" not found or not executable; expected an absolute path or a program in /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        }
        let code = try config.integer("filter_discard_code")
        guard (0...255).contains(code) else {
            throw config.error("filter_discard_code", "filter_discard_code = \(code); expected an exit code from 1 to 255, or 0 for none")
        }
        let policyName = try config.string("filter_failure_policy")
        guard let policy = FailurePolicy(rawValue: policyName) else {
            throw config.error("filter_failure_policy", "filter_failure_policy = \(policyName); expected tempfail or continue")
        }
        try self.init(argv: [program] + words.dropFirst(), timeout: Double(try config.seconds("filter_timeout")),
                      sizeLimit: try config.size("filter_size_limit"), discardCode: Int32(code),
                      failurePolicy: policy)
    }

    public init(argv: [String], timeout: Double = 60, sizeLimit: Int = 10_240_000,
                discardCode: Int32 = 0, failurePolicy: FailurePolicy = .tempfail) throws {
        precondition(!argv.isEmpty && argv[0].hasPrefix("/"), "filter argv[0] must be an absolute path")
        self.argv = argv
        self.timeout = timeout
        self.sizeLimit = sizeLimit
        self.discardCode = discardCode
        self.failurePolicy = failurePolicy
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let message = transaction.message
        if sizeLimit > 0, message.receivedSize > sizeLimit {
            transaction.trace(.note, "message of \(message.receivedSize) bytes is over filter_size_limit (\(sizeLimit)): not filtered")
            return .continue
        }
        let recipients = transaction.pendingIndices.map { transaction.recipients[$0].address }
        let environment = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C",
                           "SENDER=\(transaction.envelope.sender)",
                           "RECIPIENT=\(recipients.joined(separator: " "))",
                           "QUEUE_ID=\(transaction.queueID)"].map { $0.replacingControlCharacters() }
        let result: Subprocess.Result
        do {
            // One byte over the limit is enough to know the output is too large.
            result = try Subprocess.run(argv, environment: environment,
                                        options: .init(timeout: timeout, outputLimit: sizeLimit > 0 ? sizeLimit : 1 << 30)) { sink in
                try message.write(to: &sink)
            }
        } catch {
            return try fail(&transaction, context, "cannot run \(argv[0]): \(error)")
        }
        let program = argv[0]
        let text = result.firstErrorLine.replacingControlCharacters()
        switch result.exitCode {
        case 0? where !result.timedOut:
            if result.outputTruncated {
                return try fail(&transaction, context, "\(program) wrote more than filter_size_limit (\(sizeLimit) bytes)")
            }
            if result.output.isEmpty {
                return try fail(&transaction, context, "\(program) exited 0 but wrote no message")
            }
            let before = transaction.message.header.fields.map(\.raw)
            transaction.message = try Message.parse(Spool(bytes: result.output))
            traceChanges(&transaction, before: before, program: program)
            return .continue
        case Int32(SysExit.tempFail.rawValue)?:
            transaction.trace(.decision, "\(program) exited 75: defer\(text.isEmpty ? "" : " (\(text))")")
            throw DeliveryStatus(.init(4, 7, 0), text.isEmpty ? "filter asked to try again later" : text,
                                 reason: "filter \(program) exited 75\(text.isEmpty ? "" : ": \(text)")")
        case let code? where code == Int32(SysExit.noUser.rawValue) || code == Int32(SysExit.unavailable.rawValue)
                          || code == Int32(SysExit.noPermission.rawValue):
            transaction.trace(.decision, "\(program) exited \(code): reject\(text.isEmpty ? "" : " (\(text))")")
            throw DeliveryStatus(.policyRejection, text.isEmpty ? "message content rejected" : text,
                                 reason: "filter \(program) exited \(code)\(text.isEmpty ? "" : ": \(text)")")
        case let code? where discardCode != 0 && code == discardCode:
            transaction.trace(.decision, "\(program) exited \(code) (filter_discard_code): discard for every recipient")
            context.logger.info("\(transaction.queueID): filter \(program) discarded the message (exit \(code))")
            for i in transaction.pendingIndices { transaction.recipients[i].discard() }
            return .continue
        default:
            return try fail(&transaction, context, "\(program) failed: \(result.summary)\(text.isEmpty ? "" : ": \(text)")")
        }
    }

    /// A program that crashed, hung or wrote nonsense: defer, or go on unchanged.
    private func fail(_ transaction: inout Transaction, _ context: StageContext, _ why: String) throws -> StageVerdict {
        context.logger.warning("\(transaction.queueID): filter: \(why)")
        switch failurePolicy {
        case .continue:
            transaction.trace(.decision, "\(why); filter_failure_policy = continue: message unchanged")
            return .continue
        case .tempfail:
            transaction.trace(.decision, "\(why); filter_failure_policy = tempfail: defer")
            throw DeliveryStatus(.temporaryFailure, "temporary failure in content filter", reason: "filter: \(why)")
        }
    }

    private func traceChanges(_ transaction: inout Transaction, before: [[UInt8]], program: String) {
        guard transaction.tracing else { return }
        let after = transaction.message.header.fields
        let afterRaw = Set(after.map(\.raw))
        let beforeRaw = Set(before)
        for f in after where !beforeRaw.contains(f.raw) {
            transaction.trace(.header, "\(program) added \(f.name): \(f.value)")
        }
        for raw in before where !afterRaw.contains(raw) {
            let name = String(decoding: raw.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
            transaction.trace(.header, "\(program) removed a \(name) field")
        }
    }
}

extension String {
    /// Control characters (a newline above all) replaced by spaces: for text that goes into a
    /// log line, an environment variable or a reply.
    func replacingControlCharacters() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}

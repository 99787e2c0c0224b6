import Pipeline

/// Flags mail whose Subject has one of the configured words, so the mail client shows it
/// flagged (`\Flagged` in the Maildir file name, as Dovecot reads it).
///
///     pipeline = aliases, urgent, rules
///     urgent_words = urgent, asap, outage
///
/// A stage of a user's own package: compiled into that package's `mdad`, and, in mdad's own
/// repository, into mdad's tests too.
public struct UrgentStage: RecipientStage {
    public static let parameters: [ParameterDeclaration] = [
        .init("urgent_words", .list, default: "urgent, asap", "Subject words that get a message flagged."),
    ]

    let words: [String]

    public init(configuration: Configuration) throws {
        self.init(words: try configuration.list("urgent_words"))
    }

    public init(words: [String]) {
        self.words = words.map { $0.lowercased() }
    }

    public func process(_ recipient: inout Recipient, of transaction: Transaction,
                        context: StageContext) async throws -> StageVerdict {
        let subject = (transaction.message.header["Subject"]?.value ?? "").lowercased()
        let found = subject.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).first { words.contains(String($0)) }
        guard let word = found else { return .continue }
        recipient.trace(.match, "Subject has \"\(word)\": flagged", in: transaction)
        recipient.fileInto(recipient.defaultFolder, flags: ["\\Flagged"])
        return .continue
    }
}

extension StageRegistry {
    /// Registers the stage under the name `pipeline` uses.
    public mutating func registerUrgent() {
        register("urgent", doc: "Flag mail whose Subject has one of urgent_words.", parameters: UrgentStage.parameters) {
            try UrgentStage(configuration: $0)
        }
    }
}

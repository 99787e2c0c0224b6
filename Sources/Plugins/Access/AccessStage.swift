import Pipeline

/// Refuses mail by envelope sender or recipient, with Postfix's wording and 5.7.1.
///
///     pipeline = access
///     access_reject_senders = spammer@example.com, @bad.example, noreply@
///     access_reject_recipients = retired@example.com
///
/// Patterns: a full address, `@domain` (any user in that domain), or `user@` (that user in any
/// domain); case-insensitive. This is the list form of Postfix's `check_sender_access` with
/// REJECT; table-backed lookups arrive with the lookup-table registry.
public struct AccessStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("access_reject_senders", .list, default: "",
              "Envelope senders refused with 5.7.1: addresses, @domain or user@."),
        .init("access_reject_recipients", .list, default: "",
              "Recipients refused with 5.7.1: addresses, @domain or user@."),
    ]

    let senders: [String]
    let recipients: [String]

    public init(configuration: Configuration) throws {
        senders = try configuration.list("access_reject_senders").map { $0.lowercased() }
        recipients = try configuration.list("access_reject_recipients").map { $0.lowercased() }
    }

    public init(rejectSenders: [String] = [], rejectRecipients: [String] = []) {
        senders = rejectSenders.map { $0.lowercased() }
        recipients = rejectRecipients.map { $0.lowercased() }
    }

    static func matches(_ address: String, _ patterns: [String]) -> Bool {
        let a = address.lowercased()
        guard !a.isEmpty else { return false }
        let at = a.lastIndex(of: "@")
        let local = at.map { String(a[..<$0]) } ?? a
        let domain = at.map { String(a[a.index(after: $0)...]) } ?? ""
        for p in patterns {
            if p == a { return true }
            if p.hasPrefix("@"), !domain.isEmpty, String(p.dropFirst()) == domain { return true }
            if p.hasSuffix("@"), String(p.dropLast()) == local { return true }
        }
        return false
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let sender = transaction.envelope.sender
        if AccessStage.matches(sender, senders) {
            transaction.trace(.match, "sender <\(sender)> is in access_reject_senders")
            throw DeliveryStatus(.policyRejection, "<\(sender)>: Sender address rejected: Access denied")
        }
        for i in transaction.pendingIndices {
            let rcpt = transaction.recipients[i].address
            if AccessStage.matches(rcpt, recipients) {
                transaction.trace(.match, "recipient is in access_reject_recipients", recipient: rcpt)
                transaction.recipients[i].reject(
                    DeliveryStatus(.policyRejection, "<\(rcpt)>: Recipient address rejected: Access denied"))
            }
        }
        return .continue
    }
}

import Pipeline

/// Which addresses a rewriting step applies to: Postfix's `canonical_classes` and
/// `masquerade_classes` values.
public struct AddressClasses: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let envelopeSender = AddressClasses(rawValue: 1 << 0)
    public static let envelopeRecipient = AddressClasses(rawValue: 1 << 1)
    public static let headerSender = AddressClasses(rawValue: 1 << 2)
    public static let headerRecipient = AddressClasses(rawValue: 1 << 3)

    static let names: [(String, AddressClasses)] = [
        ("envelope_sender", .envelopeSender), ("envelope_recipient", .envelopeRecipient),
        ("header_sender", .headerSender), ("header_recipient", .headerRecipient),
    ]

    /// Reads a list parameter; an unknown name is an error with file and line.
    public init(configuration: Configuration, _ parameter: String) throws(ConfigError) {
        var set: AddressClasses = []
        for item in try configuration.list(parameter) {
            guard let c = Self.names.first(where: { $0.0 == item.lowercased() })?.1 else {
                throw configuration.error(parameter, "unknown \(parameter) value \"\(item)\"; expected envelope_sender, envelope_recipient, header_sender or header_recipient")
            }
            set.insert(c)
        }
        self = set
    }
}

/// The address header fields cleanup(8) rewrites, and whether each holds senders or
/// recipients (Postfix's header_opts.c). Delivered-To and Return-Path are never rewritten.
public enum AddressHeaders {
    /// Fields whose addresses are senders (header_sender).
    public static let senders = [
        "From", "Sender", "Resent-From", "Resent-Sender",
        "Return-Receipt-To", "Errors-To", "Disposition-Notification-To",
    ]
    /// Fields whose addresses are recipients (header_recipient).
    public static let recipients = [
        "To", "Cc", "Bcc", "Reply-To", "Apparently-To",
        "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Reply-To",
    ]

    /// The class of a field, or nil when its addresses are not rewritten.
    public static func classOf(_ field: HeaderField) -> AddressClasses? {
        if senders.contains(where: { field.hasName($0) }) { return .headerSender }
        if recipients.contains(where: { field.hasName($0) }) { return .headerRecipient }
        return nil
    }
}

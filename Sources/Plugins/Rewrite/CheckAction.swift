import Pipeline

/// One header_checks(5) / body_checks action: the answer of a table for a header or a line,
/// read as Postfix's cleanup(8) reads it (the action name in any case, then the optional text).
public enum CheckAction: Sendable, Equatable {
    /// Refuse the message: 550 5.7.1 with the text (a text starting with 4.x.x or 5.x.x sets the code).
    case reject(DeliveryStatus)
    /// Accept and throw the message away, for every recipient.
    case discard(String)
    /// Delete this header (or body line).
    case ignore
    /// Replace the header with the text (which must be a header).
    case replace(String)
    /// Put the text (a header) before this header.
    case prepend(String)
    /// Log a warning and go on.
    case warn(String)
    /// Log the text and go on.
    case info(String)
    /// Keep the message in Postfix's queue: mdad defers it (4.7.1), as it has no hold queue.
    case hold(String)
    /// No action; go on with the next header or line (DUNNO, OK).
    case none
    /// A Postfix action mdad does not carry out (FILTER, REDIRECT, BCC, …); logged and skipped.
    case unsupported(String)
    /// A result that is no action at all.
    case invalid(String)

    /// What cleanup(8) says when REJECT has no text.
    static let defaultRejectText = "message content rejected"

    public static func parse(_ result: String) -> CheckAction {
        let trimmed = result.trimmingWhitespace()
        let end = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? trimmed.endIndex
        let word = trimmed[..<end].uppercased()
        let text = trimmed[end...].trimmingWhitespace()
        switch word {
        case "REJECT":
            guard !text.isEmpty else { return .reject(DeliveryStatus(.policyRejection, defaultRejectText)) }
            // "REJECT 4.7.1 try later": a leading enhanced code of class 4 or 5 replaces 5.7.1.
            let first = text.split(separator: " ", maxSplits: 1)
            if let code = first.first.flatMap({ EnhancedStatus($0) }), !code.isSuccess {
                return .reject(DeliveryStatus(code, first.count > 1 ? String(first[1]) : defaultRejectText))
            }
            return .reject(DeliveryStatus(.policyRejection, text))
        case "DISCARD": return .discard(text)
        case "IGNORE": return .ignore
        case "REPLACE": return .replace(text)
        case "PREPEND": return .prepend(text)
        case "WARN": return .warn(text)
        case "INFO": return .info(text)
        case "HOLD": return .hold(text)
        case "DUNNO", "OK": return .none
        case "FILTER", "REDIRECT", "BCC", "STRIP", "PASS": return .unsupported(String(word))
        default: return .invalid(trimmed)
        }
    }
}

import Pipeline

/// Return-Path and Delivered-To, as a local delivery agent adds them.
///
/// Postfix's local(8) already writes `Return-Path:` and `Delivered-To:` at the top of the
/// message it hands to `mailbox_command`, so they are added only when the top block of trace
/// fields does not have them for this recipient. A `Delivered-To:` for this recipient anywhere
/// below that block means the message has been here before: a mail loop (5.4.6).
public enum TraceHeaders {
    public struct Plan: Sendable, Equatable {
        /// Fields to put on top of the message for this recipient.
        public var additions: [HeaderField]
        /// Set when the message already went through this recipient's mailbox.
        public var loop: DeliveryStatus?
    }

    static let topBlockNames = ["return-path", "delivered-to", "x-original-to"]

    static func normalized(_ address: String) -> String {
        Envelope.normalize(address).lowercased()
    }

    public static func plan(for message: Message, sender: String, recipient: String) -> Plan {
        let fields = message.header.fields
        let top = fields.prefix { f in topBlockNames.contains(f.name.lowercased()) }
        let rest = fields.dropFirst(top.count)
        let me = normalized(recipient)

        if rest.contains(where: { $0.hasName("Delivered-To") && normalized($0.value) == me }) {
            return Plan(additions: [], loop: DeliveryStatus(.mailLoop, "mail forwarding loop for \(recipient)"))
        }
        var additions: [HeaderField] = []
        if !top.contains(where: { $0.hasName("Return-Path") }) {
            if let f = try? HeaderField(name: "Return-Path", value: "<\(sender)>") { additions.append(f) }
        }
        if !top.contains(where: { $0.hasName("Delivered-To") && normalized($0.value) == me }) {
            if let f = try? HeaderField(name: "Delivered-To", value: recipient) { additions.append(f) }
        }
        return Plan(additions: additions, loop: nil)
    }

    /// The additions with their Return-Path written for `sender`: a stage (rewrite) may have
    /// changed the envelope sender, and local(8) writes the Return-Path of the rewritten one.
    public static func returnPath(_ additions: [HeaderField], sender: String) -> [HeaderField] {
        additions.map { f in
            guard f.hasName("Return-Path"), let new = try? HeaderField(name: "Return-Path", value: "<\(sender)>") else { return f }
            return new
        }
    }
}

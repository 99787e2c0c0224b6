import Logging
import Pipeline

/// The `srs` stage: a bounce to one of our SRS addresses goes back to the address it stands
/// for (the original sender, or the first forwarder's SRS0 address), with its own envelope
/// sender kept; a forged or expired address is refused with 5.7.1, a malformed one with 5.1.1,
/// and logged. Put it first in `pipeline`, before `rewrite` and `aliases`.
public struct SRSStage: RecipientStage {
    public static let parameters = SRSConfiguration.parameters
    public let configuration: SRSConfiguration?

    public init(configuration config: Configuration) throws {
        configuration = try SRSConfiguration.configured(config)
    }

    public init(_ configuration: SRSConfiguration?) { self.configuration = configuration }

    public func process(_ recipient: inout Recipient, of transaction: Transaction, context: StageContext) async throws -> StageVerdict {
        guard let configuration, configuration.isOurs(recipient.address) else { return .continue }
        let address = recipient.address
        do {
            let original = try configuration.srs.reverse(address)
            recipient.actions = [.redirect(to: original, sender: nil)]
            recipient.trace(.decision, "SRS: <\(address)> reversed to <\(original)>", in: transaction)
            context.logger.info("srs_reverse: <\(address)> rewritten as <\(original)>")
        } catch {
            recipient.reject(error.status)
            recipient.trace(.decision, "SRS: <\(address)> refused: \(error)", in: transaction)
            context.logger.warning("srs_reverse: <\(address)> refused: \(error)")
        }
        return .continue
    }
}

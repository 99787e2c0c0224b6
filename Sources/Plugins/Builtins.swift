import Pipeline
import Spam

extension StageRegistry {
    /// Every stage that ships with mdad, registered in one place. A program with its own
    /// stages starts from this and registers them on top.
    public static var builtin: StageRegistry {
        var registry = StageRegistry()
        registry.register("access", doc: "Refuse listed envelope senders and recipients with 5.7.1.",
                          parameters: AccessStage.parameters) { try AccessStage(configuration: $0) }
        registry.register("spam", doc: "Score with SpamAssassin's rule files; X-Spam-* headers, Junk folder, reject above spam_reject_score.",
                          parameters: SpamStage.parameters) { try SpamStage(configuration: $0) }
        registry.register("spamd", doc: "Ask a running spamd (SPAMC/1.5); its X-Spam-* headers, Junk folder, reject above spamd_reject_score.",
                          parameters: SpamdStage.parameters) { try SpamdStage(configuration: $0) }
        return registry
    }
}

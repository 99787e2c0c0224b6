import Pipeline
import Spam

extension StageRegistry {
    /// Every stage that ships with mdad, registered in one place. A program with its own
    /// stages starts from this and registers them on top.
    public static var builtin: StageRegistry {
        var registry = StageRegistry()
        registry.register("access", doc: "Refuse listed envelope senders and recipients with 5.7.1.",
                          parameters: AccessStage.parameters) { try AccessStage(configuration: $0) }
        registry.register("aliases", doc: "Expand virtual_alias_maps, alias_maps and .forward into final recipients, as Postfix's cleanup and local(8).",
                          parameters: AliasesStage.parameters) { try AliasesStage(configuration: $0) }
        registry.register("rules", doc: "Run each recipient's Sieve script or procmailrc (rules_engines picks the engine).",
                          parameters: RulesStage.parameters + RulesEngineRegistry.builtin.parameters) {
            try RulesStage(configuration: $0, registry: .builtin)
        }
        registry.register("filter", doc: "Run filter_command with the message on stdin and continue with the message it writes (exit 75 defers, 67/69/77 reject).",
                          parameters: FilterStage.parameters) { try FilterStage(configuration: $0) }
        registry.register("milter", doc: "Run the message past the milters in milter_servers (milter protocol 6) and apply their changes and verdicts.",
                          parameters: MilterStage.parameters) { try MilterStage(configuration: $0) }
        registry.registerParameters(of: "relay", RelayParameters.all)
        registry.register("srs", doc: "Reverse bounces to SRS addresses of srs_domain to the original sender; refuse forged or expired ones (5.7.1).",
                          parameters: SRSStage.parameters) { try SRSStage(configuration: $0) }
        registry.register("spam", doc: "Score with SpamAssassin's rule files; X-Spam-* headers, Junk folder, reject above spam_reject_score.",
                          parameters: SpamStage.parameters) { try SpamStage(configuration: $0) }
        registry.register("rewrite", doc: "Rewrite addresses and check headers and body as Postfix's cleanup(8) does.",
                          parameters: RewriteStage.parameters) { try RewriteStage(configuration: $0) }
        registry.register("spamd", doc: "Ask a running spamd (SPAMC/1.5); its X-Spam-* headers, Junk folder, reject above spamd_reject_score.",
                          parameters: SpamdStage.parameters) { try SpamdStage(configuration: $0) }
        registry.register("rspamd", doc: "Ask a running rspamd (HTTP /checkv2); reject, defer, tag with X-Spam-* headers or file as it says.",
                          parameters: RspamdStage.parameters) { try RspamdStage(configuration: $0) }
        registry.register("attachments", doc: "Refuse mail with attachments of blocked types (attachment_block_extensions, attachment_block_types) with 5.7.1.",
                          parameters: AttachmentBlockStage.parameters) { try AttachmentBlockStage(configuration: $0) }
        registry.register("listtag", doc: "Prefix the Subject of mailing-list mail (List-Id) with [list-name].",
                          parameters: ListTagStage.parameters) { try ListTagStage(configuration: $0) }
        return registry
    }
}

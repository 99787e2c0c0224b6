import Pipeline

extension StageRegistry {
    /// Every stage that ships with mdad, registered in one place. A program with its own
    /// stages starts from this and registers them on top.
    public static var builtin: StageRegistry {
        var registry = StageRegistry()
        registry.register("access", doc: "Refuse listed envelope senders and recipients with 5.7.1.",
                          parameters: AccessStage.parameters) { try AccessStage(configuration: $0) }
        registry.register("rewrite", doc: "Rewrite addresses and check headers and body as Postfix's cleanup(8) does.",
                          parameters: RewriteStage.parameters) { try RewriteStage(configuration: $0) }
        return registry
    }
}

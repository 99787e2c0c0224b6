import Pipeline

extension StageRegistry {
    /// Every stage that ships with mdad, registered in one place. A program with its own
    /// stages starts from this and registers them on top.
    public static var builtin: StageRegistry {
        var registry = StageRegistry()
        registry.register("access", doc: "Refuse listed envelope senders and recipients with 5.7.1.",
                          parameters: AccessStage.parameters) { try AccessStage(configuration: $0) }
        registry.register("rules", doc: "Run each recipient's Sieve script or procmailrc (rules_engines picks the engine).",
                          parameters: RulesStage.parameters + RulesEngineRegistry.builtin.parameters) {
            try RulesStage(configuration: $0, registry: .builtin)
        }
        registry.registerParameters(of: "relay", RelayParameters.all)
        return registry
    }
}

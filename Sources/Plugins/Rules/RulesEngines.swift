import Pipeline

extension RulesEngineRegistry {
    /// Every rules engine that ships with mdad, registered in one place.
    public static var builtin: RulesEngineRegistry {
        var registry = RulesEngineRegistry()
        registry.register("procmail", parameters: ProcmailEngine.parameters) { try ProcmailEngine(configuration: $0) }
        return registry
    }
}

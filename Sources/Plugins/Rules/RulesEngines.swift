import Pipeline

extension RulesEngineRegistry {
    /// Every rules engine that ships with mdad, registered in one place.
    public static var builtin: RulesEngineRegistry {
        var registry = RulesEngineRegistry()
        registry.register("sieve", parameters: SieveEngine.parameters) { try SieveEngine(configuration: $0) }
        registry.register("procmail", parameters: ProcmailEngine.parameters) { try ProcmailEngine(configuration: $0) }
        return registry
    }
}

import Pipeline

extension RulesEngineRegistry {
    /// Every rules engine that ships with mdad, registered in one place.
    public static var builtin: RulesEngineRegistry {
        let registry = RulesEngineRegistry()
        return registry
    }
}

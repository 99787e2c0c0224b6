/// The stage types mdad knows, by the name `pipeline` uses. It is filled explicitly, in one
/// place (`StageRegistry.builtin` in Plugins); a program with its own stages registers them
/// on top before building the chain.
public struct StageRegistry: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let doc: String
        /// The parameters the stage reads, declared like the core's.
        public let parameters: [ParameterDeclaration]
        public let make: @Sendable (Configuration) throws -> any Stage
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Parameters of built-in services that are not stages (the relay's queue and SMTP client),
    /// by owner, so that they are declared, validated and listed like a stage's.
    public private(set) var serviceParameters: [String: [ParameterDeclaration]] = [:]

    public init() {
        entries.reserveCapacity(16)
    }

    public mutating func register(_ name: String, doc: String, parameters: [ParameterDeclaration] = [],
                                  make: @escaping @Sendable (Configuration) throws -> any Stage) {
        precondition(entries[name] == nil, "stage \(name) registered twice")
        entries[name] = Entry(name: name, doc: doc, parameters: parameters, make: make)
    }

    /// Declares the parameters of a built-in service that is not a stage.
    public mutating func registerParameters(of owner: String, _ parameters: [ParameterDeclaration]) {
        precondition(serviceParameters[owner] == nil, "parameters of \(owner) registered twice")
        serviceParameters[owner] = parameters
    }

    /// The core parameters and every registered stage's and service's.
    public var parameterTable: ParameterTable {
        let count = entries.values.reduce(0) { $0 + $1.parameters.count }
            + serviceParameters.values.reduce(0) { $0 + $1.count }
        var table = ParameterTable(capacity: CoreParameters.all.count + count)
        for name in entries.keys.sorted() {
            for p in entries[name]!.parameters { table.add(p) }
        }
        for owner in serviceParameters.keys.sorted() {
            for p in serviceParameters[owner]! { table.add(p) }
        }
        return table
    }

    /// Builds the chain that `pipeline` names, each stage from its parameters.
    public func makeChain(_ configuration: Configuration) throws -> Chain {
        var steps: [Chain.Step] = []
        for name in try configuration.list("pipeline") {
            guard let entry = entries[name] else {
                let known = entries.keys.sorted().joined(separator: ", ")
                throw configuration.error("pipeline", "unknown stage \"\(name)\" in pipeline; expected one of: \(known.isEmpty ? "(none registered)" : known)")
            }
            let stage: any Stage
            do {
                stage = try entry.make(configuration)
            } catch let e as ConfigError {
                throw e
            } catch {
                throw configuration.error("pipeline", "stage \(name): \(error)")
            }
            steps.append(Chain.Step(name: name, stage: stage))
        }
        return Chain(steps)
    }
}

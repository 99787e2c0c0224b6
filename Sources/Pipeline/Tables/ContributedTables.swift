import Synchronization

/// Table types that come from targets Pipeline cannot import (`pgsql:` lives in the PgsqlTable
/// target, beside Plugins, because it needs postgres-nio).
///
/// The program that links such a target contributes its types once at start-up
/// (`PgsqlTableType.register()` in `mdad`'s entry point), before it reads any configuration; from
/// then on every ``TableRegistry/configured(_:)`` and ``TableRegistry/builtin`` knows them, so
/// the stages, local delivery, the LMTP server and `mdad postmap` need no new parameter.
/// A program that does not link the target (`mdad-deliver`, kept small for its start-up time)
/// simply does not know the type and says so when a table names it.
///
/// This is the one piece of process-wide state the tables have: a list that only grows, set up
/// before the first table is opened.
extension TableRegistry {
    private static let contributed = Mutex<[String: Opener]>([:])

    /// Adds a table type for the whole process. A second contribution of the same type is
    /// ignored (tests may register more than once); a built-in type cannot be replaced.
    public static func contribute(_ type: String, _ opener: @escaping Opener) {
        precondition(TableRegistry.builtinTypes.contains(type) == false, "table type \(type) is built in")
        contributed.withLock { openers in
            if openers[type] == nil { openers[type] = opener }
        }
    }

    /// The contributed types, added to a registry after its built-in ones.
    mutating func addContributed() {
        for (type, opener) in TableRegistry.contributed.withLock({ $0 }) where openers[type] == nil {
            register(type, opener)
        }
    }

    static let builtinTypes: Set<String> = ["texthash", "inline", "static", "pcre", "cdb"]
}

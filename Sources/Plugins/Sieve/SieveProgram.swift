import Pipeline

/// A string argument, split where it names variables (`${name}`, `${1}`) when the script
/// requires "variables"; a plain string otherwise.
struct SieveString: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text(String)
        /// A variable by its lower-cased name (names are case-insensitive).
        case variable(String)
        case match(Int)
    }
    var parts: [Part]
    /// The value when no part needs expanding.
    var literal: String?

    init(literal: String) {
        parts = [.text(literal)]
        self.literal = literal
    }

    init(parts: [Part]) {
        self.parts = parts
        if parts.allSatisfy({ if case .text = $0 { return true } else { return false } }) {
            literal = parts.map { if case .text(let t) = $0 { return t } else { return "" } }.joined()
        } else {
            literal = nil
        }
    }
}

enum SieveComparator: String, Sendable {
    case octet = "i;octet"
    case asciiCasemap = "i;ascii-casemap"
    case asciiNumeric = "i;ascii-numeric"
}

enum SieveRelation: String, Sendable {
    case gt, ge, lt, le, eq, ne
}

enum SieveMatchType: Sendable, Equatable {
    case `is`, contains, matches, regex
    case value(SieveRelation)
    case count(SieveRelation)
}

/// The key list of a test with the match type and comparator that apply to it; constant
/// patterns are compiled once with the script.
struct SieveMatcher: Sendable {
    var comparator: SieveComparator = .asciiCasemap
    var type: SieveMatchType = .is
    var keys: [SieveString] = []
    /// For `:regex`, each constant key's compiled expression (nil where the key has variables).
    var regexes: [PCRERegex?] = []
}

enum SieveAddressPart: Sendable, Equatable {
    case all, localpart, domain, user, detail
}

/// `:index N [:last]` of RFC 5260 on header, address and date tests.
struct SieveIndex: Sendable, Equatable {
    var index: Int
    var last: Bool
}

enum SieveBodyTransform: Sendable, Equatable {
    case raw
    case content([SieveString])
    case text
}

enum SieveZone: Sendable, Equatable {
    case local
    case original
    case fixed(SieveString)
}

indirect enum SieveTest: Sendable {
    case constant(Bool)
    case not(SieveTest)
    case allof([SieveTest])
    case anyof([SieveTest])
    case header(names: [SieveString], SieveMatcher, index: SieveIndex?, mime: Bool)
    case address(names: [SieveString], part: SieveAddressPart, SieveMatcher, index: SieveIndex?)
    case envelope(parts: [SieveString], part: SieveAddressPart, SieveMatcher)
    case exists([SieveString])
    case size(over: Bool, limit: Int)
    case body(SieveBodyTransform, SieveMatcher)
    case string(sources: [SieveString], SieveMatcher)
    case hasflag(variables: [SieveString], SieveMatcher)
    case date(header: SieveString, zone: SieveZone, part: SieveString, SieveMatcher, index: SieveIndex?)
    case currentdate(zone: SieveZone, part: SieveString, SieveMatcher)
    case mailboxexists([SieveString])
    case duplicate(SieveDuplicateSpec)
    case validNotifyMethod([SieveString])
    case notifyMethodCapability(uri: SieveString, capability: SieveString, SieveMatcher)
}

enum SieveFlagOperation: Sendable { case set, add, remove }

enum SieveModifier: Int, Sendable, Comparable {
    // Raw values are RFC 5229's precedences; higher ones apply first.
    case lower = 40, upper = 41, lowerfirst = 30, upperfirst = 31, quotewildcard = 20,
         quoteregex = 16, encodeurl = 15, length = 10
    static func < (a: SieveModifier, b: SieveModifier) -> Bool { a.rawValue < b.rawValue }
    var precedence: Int { rawValue / 5 }
}

struct SieveVacationSpec: Sendable {
    var seconds: Int?
    var subject: SieveString?
    var from: SieveString?
    var addresses: [SieveString]
    var mime: Bool
    var handle: SieveString?
    var reason: SieveString
}

struct SieveNotifySpec: Sendable {
    var method: SieveString
    var from: SieveString?
    var importance: SieveString?
    var options: [SieveString]
    var message: SieveString?
}

struct SieveDuplicateSpec: Sendable {
    var handle: SieveString?
    var header: SieveString?
    var uniqueID: SieveString?
    var seconds: Int?
    var last: Bool
}

enum SieveIncludeLocation: String, Sendable { case personal, global }

indirect enum SieveCommand: Sendable {
    case ifChain(branches: [(test: SieveTest, block: [SieveCommand], line: Int)], otherwise: [SieveCommand]?)
    case stop
    case keep(flags: [SieveString]?, line: Int)
    case discard(line: Int)
    case fileinto(mailbox: SieveString, flags: [SieveString]?, copy: Bool, create: Bool, line: Int)
    case redirect(address: SieveString, copy: Bool, line: Int)
    case reject(reason: SieveString, extended: Bool, line: Int)
    case set(name: String, value: SieveString, modifiers: [SieveModifier])
    case flags(SieveFlagOperation, variable: SieveString?, flags: [SieveString])
    case vacation(SieveVacationSpec, line: Int)
    case addheader(name: SieveString, value: SieveString, last: Bool, line: Int)
    case deleteheader(name: SieveString, SieveMatcher?, index: SieveIndex?, line: Int)
    case include(key: String, once: Bool, optional: Bool, line: Int)
    case `return`
    case global([String])
    case notify(SieveNotifySpec, line: Int)
    case error(SieveString, line: Int)
}

/// One compiled script: immutable, shared across runs and threads.
public struct SieveScript: Sendable {
    /// The name errors use (the file name without `.sieve`).
    public let name: String
    let commands: [SieveCommand]
    let extensions: Set<String>
}

/// A compiled script with every script it includes, compiled with it: running needs no I/O.
public struct SieveProgram: Sendable {
    public let main: SieveScript
    /// Included scripts by their key (`personal:name` or `global:name`).
    let library: [String: SieveScript]
    /// Scripts an `include :optional` named that did not exist.
    let missing: Set<String>
    /// The files of the included scripts (and of optional ones that were missing), so a cache
    /// can tell when any of them changed.
    public let dependencies: [String]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// `mdad postmap`, `mdad postalias` and `mdad newaliases`, with Postfix's flags and output.
///
/// Tables are named `type:file` (a bare file uses `default_database_type`). Building writes
/// `file.cdb` through a temporary file and a rename. `-q KEY` prints the value and exits 0,
/// or exits 1 when there is none; `-q -` reads keys from standard input and prints
/// `key<TAB>value` (`key:<TAB>value` for aliases). `-s` lists every entry.
public enum PostmapCommand {
    public enum Kind: Sendable { case postmap, postalias }

    public struct Options: Sendable {
        public var kind: Kind = .postmap
        public var configDirectory: String?
        public var query: String?
        public var dump = false
        public var replace = false
        /// `-i`: add entries from standard input to an existing table.
        public var incremental = false
        /// `-N`: keys and values with a terminating NUL; `-n` (the default): without.
        public var withNul = false
        public var tables: [String] = []
        public init() {}
    }

    static func program(_ kind: Kind) -> String { kind == .postmap ? "postmap" : "postalias" }

    static func say(_ text: String, fd: Int32 = 2) { try? Posix.writeAll(fd, Array((text + "\n").utf8)) }

    /// Splits `type:name`, with the configured default type for a bare name.
    static func split(_ spec: String, defaultType: String) -> (type: String, name: String) {
        if let colon = spec.firstIndex(of: ":"), !spec[..<colon].contains("/") {
            return (String(spec[..<colon]), String(spec[spec.index(after: colon)...]))
        }
        return (defaultType, spec)
    }

    public static func run(_ o: Options, registry: StageRegistry = .builtin, system: SystemInfo = .current()) -> Int32 {
        let prog = program(o.kind)
        let config: Configuration
        do {
            let dir = Configuration.directory(commandLine: o.configDirectory)
            config = try Configuration.load(directory: dir.path, explicit: dir.explicit, table: registry.parameterTable, system: system)
        } catch {
            say("\(prog): fatal: \(error)")
            return 1
        }
        let defaultType = (try? config.string("default_database_type")) ?? "cdb"
        guard !o.tables.isEmpty else {
            say("\(prog): fatal: usage: \(prog) [-Nnrs] [-c config_dir] [-q key] [type:]file...")
            return 1
        }
        if let key = o.query { return query(key, o, config, defaultType) }
        if o.dump { return dump(o, config, defaultType) }
        if o.incremental {
            // cdb files are written once and replaced whole (Postfix's postalias -i refuses
            // them too): the source file is where entries are added.
            let (type, name) = split(o.tables[0], defaultType: defaultType)
            say("\(prog): fatal: \(type):\(name): -i (incremental update) is not supported by \(type) tables, which are rebuilt whole; add the entries to \(name) and run \(prog) \(name)")
            return 1
        }
        for spec in o.tables {
            let (type, name) = split(spec, defaultType: defaultType)
            if type == "pgsql" {
                say("\(prog): fatal: unsupported dictionary type: pgsql does not support bulk-mode creation.")
                return 1
            }
            guard type == "cdb" else {
                say("\(prog): fatal: unsupported dictionary type for building: \(type); expected cdb (texthash tables need no building)")
                return 1
            }
            if let failure = build(name, o, config) {
                say("\(prog): fatal: \(failure)")
                return 1
            }
        }
        return 0
    }

    /// Compiles `source` into `source.cdb`; returns an error message or nil.
    static func build(_ source: String, _ o: Options, _ config: Configuration) -> String? {
        let prog = program(o.kind)
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(source, limit: 2 << 30)
        } catch {
            return "open \(source): \(error)"
        }
        var pairs: [(String, String)] = []
        switch o.kind {
        case .postalias:
            let parsed = AliasesFile.parse(bytes: bytes, file: source, replace: o.replace)
            for w in parsed.warnings { say("\(prog): warning: \(w)") }
            pairs = parsed.entries.map { ($0.key, $0.value) }
            // As Postfix: the sendmail "alias database complete" entry and the NIS markers.
            pairs.append(("@", "@"))
            pairs.append(("YP_LAST_MODIFIED", String(Int(time(nil)))))
            pairs.append(("YP_MASTER_NAME", (try? config.string("myhostname")) ?? "localhost"))
        case .postmap:
            let parsed = TextHashTable.parse(String(decoding: bytes, as: UTF8.self), file: source, replace: o.replace)
            for w in parsed.warnings { say("\(prog): warning: \(w.description)") }
            pairs = parsed.ordered
        }
        do {
            let writer = try CDBWriter(path: source + ".cdb")
            do {
                for (k, v) in pairs {
                    var key = Array(k.utf8), value = Array(v.utf8)
                    if o.withNul { key.append(0); value.append(0) }
                    try writer.add(key, value)
                }
                try writer.commit()
            } catch {
                writer.abandon()
                throw error
            }
        } catch {
            return "\(source).cdb: \(error)"
        }
        return nil
    }

    static func open(_ spec: String, _ defaultType: String, _ config: Configuration) throws(ConfigError) -> any LookupTable {
        let (type, name) = split(spec, defaultType: defaultType)
        return try TableRegistry.configured(config).open("\(type):\(name)")
    }

    static func query(_ key: String, _ o: Options, _ config: Configuration, _ defaultType: String) -> Int32 {
        let prog = program(o.kind)
        var tables: [any LookupTable] = []
        for spec in o.tables {
            do { tables.append(try open(spec, defaultType, config)) } catch {
                say("\(prog): fatal: \(error)")
                return 1
            }
        }
        // A table that cannot answer (a database down) is fatal, as in Postfix: never "not found".
        func find(_ k: String) throws(TableError) -> String? {
            for t in tables {
                if let v = try t.lookup(k) { return v }
            }
            return nil
        }
        func fatal(_ error: TableError) -> Int32 {
            say("\(prog): fatal: table \(error.table): query error: \(error.message)")
            return 1
        }
        if key != "-" {
            do {
                guard let v = try find(key) else { return 1 }
                say(v, fd: 1)
                return 0
            } catch {
                return fatal(error)
            }
        }
        var found = false
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var output: [UInt8] = []
        output.reserveCapacity(1 << 17)
        let separator: [UInt8] = o.kind == .postalias ? [58, 9] : [9]
        // cdb tables are answered on bytes, without building Strings for each key.
        let cdbTables = tables.compactMap { $0 as? CDBTable }
        var folded: [UInt8] = []
        func answer(_ line: ArraySlice<UInt8>) throws(TableError) {
            // The key is the line without its LF; a CR stays part of it, as in Postfix.
            let l = line
            if cdbTables.count == tables.count {
                for t in cdbTables {
                    folded.removeAll(keepingCapacity: true)
                    folded += l
                    let hit = t.withValue(forKey: &folded) { value -> Bool in
                        guard let value else { return false }
                        output += l
                        output += separator
                        output += value
                        output.append(10)
                        return true
                    }
                    if hit { found = true; break }
                }
            } else {
                let k = String(decoding: l, as: UTF8.self)
                if let v = try find(k) {
                    found = true
                    output += Array(k.utf8) + separator + Array(v.utf8) + [10]
                }
            }
            if output.count > 65536 { try? Posix.writeAll(1, output); output.removeAll(keepingCapacity: true) }
        }
        do throws(TableError) {
            while true {
                let n = buffer.withUnsafeMutableBytes { (try? Posix.read(0, into: $0)) ?? 0 }
                if n <= 0 { break }
                input += buffer[0..<n]
                var start = 0
                if cdbTables.count == 1, tables.count == 1 {
                    // One cdb table: the whole buffer's keys in one batch, so the table can
                    // fetch the next keys' slots while it answers this one.
                    var keys: [Range<Int>] = []
                    while let nl = input[start...].firstIndex(of: 10) {
                        keys.append(start..<nl)
                        start = nl + 1
                    }
                    cdbTables[0].withValues(in: input, keys: keys) { i, value in
                        guard let value else { return }
                        found = true
                        output += input[keys[i]]
                        output += separator
                        output += value
                        output.append(10)
                        if output.count > 65536 { try? Posix.writeAll(1, output); output.removeAll(keepingCapacity: true) }
                    }
                } else {
                    while let nl = input[start...].firstIndex(of: 10) {
                        try answer(input[start..<nl])
                        start = nl + 1
                    }
                }
                input.removeFirst(start)
            }
            if !input.isEmpty { try answer(input[...]) }
        } catch {
            try? Posix.writeAll(1, output)
            return fatal(error)
        }
        try? Posix.writeAll(1, output)
        return found ? 0 : 1
    }

    static func dump(_ o: Options, _ config: Configuration, _ defaultType: String) -> Int32 {
        let prog = program(o.kind)
        let separator = o.kind == .postalias ? ": " : "\t"
        for spec in o.tables {
            do {
                let t = try open(spec, defaultType, config)
                guard let cdb = t as? CDBTable else {
                    say("\(prog): fatal: table \(spec): sequence operation is not supported")
                    return 1
                }
                var out: [UInt8] = []
                for (k, v) in cdb.entries() {
                    let key = k.hasSuffix("\0") ? String(k.dropLast()) : k
                    let value = v.hasSuffix("\0") ? String(v.dropLast()) : v
                    out += Array((key + separator + value + "\n").utf8)
                }
                try? Posix.writeAll(1, out)
            } catch {
                say("\(prog): fatal: \(error)")
                return 1
            }
        }
        return 0
    }

    /// `newaliases [-C dir]` (sendmail's flag) or `mdad newaliases -c dir`.
    public static func newaliasesFromCommandLine(_ args: [String]) -> Int32 {
        var dir: String?
        if let i = args.firstIndex(where: { $0 == "-c" || $0 == "-C" }), i + 1 < args.count { dir = args[i + 1] }
        return newaliases(configDirectory: dir)
    }

    /// `newaliases`: builds every table of `alias_database`.
    public static func newaliases(configDirectory: String?, registry: StageRegistry = .builtin) -> Int32 {
        let dir = Configuration.directory(commandLine: configDirectory)
        guard let config = try? Configuration.load(directory: dir.path, explicit: dir.explicit, table: registry.parameterTable),
              let databases = try? config.list("alias_database") else {
            say("newaliases: fatal: cannot read the configuration in \(dir.path)")
            return 1
        }
        var o = Options()
        o.kind = .postalias
        o.configDirectory = configDirectory
        o.tables = databases
        return run(o, registry: registry)
    }
}

extension PostmapCommand {
    /// Postfix's getopt-style flags: `-c dir -q key -N -n -r -s` (and `-v`, `-w`, `-o`
    /// accepted and ignored as Postfix's), then table names.
    public static func parseArguments(_ args: [String], kind: Kind) -> Options? {
        var o = Options()
        o.kind = kind
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            guard a.hasPrefix("-"), a.count > 1 else { o.tables.append(a); continue }
            var letters = Array(a.dropFirst())
            while !letters.isEmpty {
                let l = letters.removeFirst()
                switch l {
                case "N": o.withNul = true
                case "n": o.withNul = false
                case "r": o.replace = true
                case "s": o.dump = true
                case "i": o.incremental = true
                case "v", "w", "f", "p", "u", "b", "h", "m", "o", "x", "F": break
                case "c", "q":
                    let value: String
                    if !letters.isEmpty { value = String(letters); letters = [] } else {
                        guard i < args.count else { return nil }
                        value = args[i]; i += 1
                    }
                    if l == "c" { o.configDirectory = value } else { o.query = value }
                default:
                    return nil
                }
            }
        }
        return o
    }

    public static func runFromCommandLine(_ args: [String], kind: Kind) -> Int32 {
        guard let o = parseArguments(args, kind: kind) else {
            say("\(program(kind)): fatal: usage: \(program(kind)) [-Nnrs] [-c config_dir] [-q key] [type:]file...")
            return 1
        }
        return run(o)
    }
}

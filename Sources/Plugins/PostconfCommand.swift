import Pipeline

/// `mdad postconf`, wired to the parameter table of the core and every built-in stage.
public enum PostconfCommand {
    public struct Options: Sendable {
        public var configDirectory: String?
        public var mode: Postconf.Mode = .current
        public var expand = false
        public var edits: [String] = []
        public var removals: [String] = []
        public var names: [String] = []
        public init() {}
    }

    /// Runs postconf; returns the exit status (0, or 1 with a message on standard error, as
    /// Postfix's postconf exits 1 on a fatal error).
    public static func run(_ o: Options, registry: StageRegistry = .builtin, system: SystemInfo = .current()) -> Int32 {
        let dir = Configuration.directory(commandLine: o.configDirectory)
        let path = dir.path.hasSuffix("/") ? dir.path + "main.cf" : dir.path + "/main.cf"
        do {
            if !o.edits.isEmpty || !o.removals.isEmpty {
                let settings = try o.edits.map { (s) throws(ConfigError) in try Postconf.parseSetting(s) }
                let text: String
                if Posix.exists(path) {
                    text = String(decoding: try Posix.readFile(path, limit: 4 << 20), as: UTF8.self)
                } else {
                    text = ""
                }
                let edited = Postconf.edit(text, settings: settings.map { ($0.name, $0.value) }, removals: o.removals)
                // Refuse to write a main.cf that would not parse.
                _ = try Configuration(mainCF: edited, file: path, table: registry.parameterTable, system: system)
                try Postconf.replaceFile(path, with: edited)
                return 0
            }
            let config = try Configuration.load(directory: dir.path, explicit: dir.explicit,
                                                table: registry.parameterTable, system: system)
            let out = try Postconf.show(config, mode: o.mode, expand: o.expand, names: o.names)
            for w in out.warnings { try? Posix.writeAll(2, Array((w + "\n").utf8)) }
            try Posix.writeAll(1, Array(out.lines.map { $0 + "\n" }.joined().utf8))
            return 0
        } catch {
            try? Posix.writeAll(2, Array("postconf: fatal: \(error)\n".utf8))
            return 1
        }
    }
}

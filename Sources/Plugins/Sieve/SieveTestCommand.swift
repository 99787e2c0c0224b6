#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad sieve-test` (Pigeonhole's listing of what a script would do; nothing is delivered)
/// and `mdad sievec` (check a script).
public enum SieveTestCommand {
    public struct Options: Sendable {
        public var configDirectory: String?
        public var sender = "sender@example.com"
        public var originalRecipient: String?
        public var recipient = "recipient@example.com"
        public var defaultMailbox = "INBOX"
        public var script = ""
        public var message = ""
        /// `-R N`: run the compiled script N times over the message and report the rate on
        /// standard error (for benchmarks: compile excluded).
        public var repeatCount = 1
        public init() {}
    }

    static func say(_ text: String, fd: Int32 = 2) { try? Posix.writeAll(fd, Array(text.utf8)) }

    static let usage = "Usage: mdad sieve-test [-c DIR] [-f SENDER] [-a ORIG_RECIPIENT] [-r RECIPIENT] [-m MAILBOX] SCRIPT MESSAGE\n"

    public static func parse(_ args: [String]) -> Options? {
        var o = Options()
        var rest: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if ["-c", "-f", "-a", "-r", "-m", "-R"].contains(a) {
                guard i + 1 < args.count else { return nil }
                let v = args[i + 1]
                switch a {
                case "-c": o.configDirectory = v
                case "-f": o.sender = Envelope.normalize(v)
                case "-a": o.originalRecipient = Envelope.normalize(v)
                case "-r": o.recipient = Envelope.normalize(v)
                case "-m": o.defaultMailbox = v
                default: guard let n = Int(v), n > 0 else { return nil }; o.repeatCount = n
                }
                i += 2
            } else if a == "-C" {
                // Pigeonhole's "force compilation": mdad compiles every time anyway.
                i += 1
            } else if a.hasPrefix("-"), a.count > 1 {
                return nil
            } else {
                rest.append(a)
                i += 1
            }
        }
        guard rest.count == 2 else { return nil }
        o.script = rest[0]
        o.message = rest[1]
        return o
    }

    static func configuration(_ dir: String?, registry: StageRegistry) throws(ConfigError) -> Configuration {
        // Scripts written around Pigeonhole's tool pass its dovecot.conf: that is no mdad
        // configuration directory, so the defaults apply.
        if let dir, SieveEngine.isFile(dir) {
            say("mdad: warning: -c \(dir) is a file; mdad reads main.cf from a directory, so the defaults apply\n")
            return Configuration(table: registry.parameterTable)
        }
        let d = Configuration.directory(commandLine: dir)
        return try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable)
    }

    static func limits(_ config: Configuration) throws(ConfigError) -> (SieveLimits, SieveIncludeLocations) {
        let l = try SieveLimits(configuration: config)
        let home = String(cString: getenv("HOME") ?? strdup("/"))
        func tilde(_ p: String) -> String? { p.isEmpty ? nil : p.hasPrefix("~") ? home + p.dropFirst() : p }
        return (l, SieveIncludeLocations(personal: tilde(try config.string("sieve_dir")), global: tilde(try config.string("sieve_global"))))
    }

    public static func runFromCommandLine(_ args: [String], registry: StageRegistry = .builtin) -> Int32 {
        guard let o = parse(args) else { say(usage); return 64 }
        return run(o, registry: registry)
    }

    /// Prints the result as Pigeonhole's sieve-test does; exit 0 on success, 1 when the script
    /// fails at run time (Pigeonhole then keeps the message), 89 on a compile error.
    public static func run(_ o: Options, registry: StageRegistry = .builtin) -> Int32 {
        let config: Configuration
        let limits: SieveLimits
        let includes: SieveIncludeLocations
        do {
            config = try configuration(o.configDirectory, registry: registry)
            (limits, includes) = try Self.limits(config)
        } catch {
            say("mdad sieve-test: fatal: \(error)\n")
            return 78
        }
        let program: SieveProgram
        do { program = try SieveLoader.compile(path: o.script, includes: includes) } catch {
            say("\(error.report)mdad sieve-test: fatal: failed to compile sieve script\n")
            return 89
        }
        let message: Message
        do { message = try Message.parse(Spool(bytes: try Posix.readFile(o.message, limit: 64 << 20))) } catch {
            say("mdad sieve-test: fatal: cannot read message \(o.message): \(error)\n")
            return 74
        }
        var env = SieveEnvironment(sender: o.sender, recipient: o.recipient, originalRecipient: o.originalRecipient,
                                   recipientDelimiter: config.rawValue("recipient_delimiter").flatMap { $0.isEmpty ? nil : $0 } ?? "+",
                                   now: Int(time(nil)))
        env.limits = limits
        env.defaultMailbox = o.defaultMailbox
        do {
            var result = try SieveInterpreter(program: program, message: message, environment: env).run()
            if o.repeatCount > 1 {
                var start = timespec(), end = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                for _ in 1..<o.repeatCount {
                    result = try SieveInterpreter(program: program, message: message, environment: env).run()
                }
                clock_gettime(CLOCK_MONOTONIC, &end)
                let secs = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
                say("executions: \(o.repeatCount - 1) in \(secs)s\n")
            }
            say(SieveResultPrinter.format(result, defaultMailbox: o.defaultMailbox), fd: 1)
            say("mdad sieve-test: info: final result: success\n")
            return 0
        } catch {
            say("\(program.main.name): error: \(error.description).\nmdad sieve-test: info: final result: failed; resolved with successful implicit keep\n")
            return 1
        }
    }

    /// `mdad sievec SCRIPT`: compiles the script and its includes; prints the errors.
    public static func sievec(_ args: [String], registry: StageRegistry = .builtin) -> Int32 {
        var dir: String? = nil
        var rest: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == "-c", i + 1 < args.count { dir = args[i + 1]; i += 2; continue }
            rest.append(args[i])
            i += 1
        }
        guard rest.count == 1 else { say("Usage: mdad sievec [-c DIR] SCRIPT\n"); return 64 }
        do {
            let config = try configuration(dir, registry: registry)
            let (_, includes) = try limits(config)
            _ = try SieveLoader.compile(path: rest[0], includes: includes)
            return 0
        } catch let e as SieveError {
            say("\(e.report)mdad sievec: fatal: failed to compile sieve script '\(rest[0])'\n")
            return 89
        } catch {
            say("mdad sievec: fatal: \(error)\n")
            return 78
        }
    }
}

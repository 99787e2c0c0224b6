#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad spam check FILE… [--json]` and `mdad spam lint`.
public enum SpamCommand {
    /// Runs `mdad spam ARGS`; returns the exit status. `table` is every registered
    /// parameter (the stages' included), for reading main.cf.
    public static func run(_ arguments: [String], table: ParameterTable) -> Int32 {
        var args = arguments
        guard let verb = args.first else { return usage() }
        args.removeFirst()
        var configDirectory: String?
        var rulePaths: [String] = []
        var json = false
        var files: [String] = []
        var learnFlags: [String] = []
        var dbPath: String?
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "-c", "--config", "--rules", "--dbpath":
                guard i + 1 < args.count else { return usage("\(a) needs a value") }
                if a == "--rules" { rulePaths.append(args[i + 1]) } else if a == "--dbpath" { dbPath = args[i + 1] } else { configDirectory = args[i + 1] }
                i += 2
                continue
            case "--json": json = true
            case "--spam", "--ham", "--forget", "--watch", "--once": learnFlags.append(a)
            case "-h", "--help": return usage()
            default:
                if a.hasPrefix("-"), a != "-" { return usage("unknown option \(a)") }
                files.append(a)
            }
            i += 1
        }
        let dir = Configuration.directory(commandLine: configDirectory)
        let config: Configuration
        do {
            config = try Configuration.load(directory: dir.path, explicit: dir.explicit, table: table)
        } catch {
            return fail("\(error)")
        }
        let limits: PCRERegex.Limits
        do { limits = try PCRERegex.Limits(config) } catch { return fail("\(error)") }
        let paths: [String]
        do { paths = rulePaths.isEmpty ? try config.list("spam_rules") : rulePaths } catch { return fail("\(error)") }
        // Learning needs only the rule files' bayes_* settings, not the compiled rules.
        if verb == "learn" { return BayesLearnCommand.run(learnFlags + files, config: config, settings: BayesSettings(paths: paths), dbPath: dbPath) }
        let rules = RuleSet.load(paths: paths, limits: limits)
        switch verb {
        case "check":
            guard !files.isEmpty else { return usage("spam check needs at least one message file") }
            let bayes: BayesClassifier?
            do { bayes = try BayesClassifier.configured(config, rules: rules, dbPath: dbPath) } catch { return fail("\(error)") }
            return check(files, rules: rules, json: json, hostName: (try? config.string("myhostname")) ?? Posix.hostName(), bayes: bayes)
        case "lint":
            print(lint(rules, paths: paths), terminator: "")
            return rules.diagnostics.errors.isEmpty && rules.ruleCount > 0 ? 0 : 1
        default:
            return usage("unknown spam command \(verb)")
        }
    }

    static func check(_ files: [String], rules: RuleSet, json: Bool, hostName: String, bayes: BayesClassifier? = nil) -> Int32 {
        var status: Int32 = 0
        for file in files {
            let result: SpamResult
            do {
                let bytes = file == "-" ? try readStandardInput() : try Posix.readFile(file, limit: 64 << 20)
                let message = try Message.parse(Spool(bytes: bytes))
                result = try rules.check(message, bayes: bayes)
            } catch {
                FileHandleStandardError.write("mdad spam check: \(file): \(error)\n")
                status = 1
                continue
            }
            for e in result.matchErrors {
                FileHandleStandardError.write("mdad spam check: \(file): rule \(e.rule) stopped: \(e.error)\n")
            }
            if json {
                print(jsonLine(file: file, result))
            } else {
                for (name, value) in rules.headerFields(for: result, hostName: hostName) { print("\(name): \(value)") }
                print("")
                print(rules.report(for: result))
                print("")
            }
        }
        return status
    }

    /// `{"file", "score", "required_score", "is_spam", "rules": [names], "rule_scores": {name: score}}`.
    public static func jsonLine(file: String, _ r: SpamResult) -> String {
        let names = r.scoredRules.map { JSON.string($0.name) }.joined(separator: ",")
        let scores = r.scoredRules.map { "\(JSON.string($0.name)):\(JSON.number($0.score))" }.joined(separator: ",")
        return "{\"file\":\(JSON.string(file)),\"score\":\(JSON.number(r.score)),\"required_score\":\(JSON.number(r.requiredScore)),\"is_spam\":\(r.isSpam),\"rules\":[\(names)],\"rule_scores\":{\(scores)}}"
    }

    /// What `mdad spam lint` prints.
    public static func lint(_ rules: RuleSet, paths: [String]) -> String {
        let d = rules.diagnostics
        var out = "rule paths: \(paths.joined(separator: ", "))\n"
        out += "files read: \(d.files.count)\n"
        out += "rules: \(rules.ruleCount) read, \(rules.enabledCount) run\n"
        for type in RuleType.allCases where type != .meta {
            let ids = rules.byType[type] ?? []
            let always = ids.filter { rules.rules[$0].regex != nil && rules.rules[$0].literals == nil }
            guard !ids.isEmpty else { continue }
            out += "  \(type.rawValue): \(ids.count) run, \(always.count) without a literal prefilter\(always.count <= 40 ? ": " + always.map { rules.rules[$0].name }.joined(separator: " ") : "")\n"
        }
        out += "errors: \(d.errors.count)\n"
        for e in d.errors { out += "  \(e)\n" }
        out += "regexes PCRE2 cannot take: \(d.unsupportedRegexes.count)\n"
        for u in d.unsupportedRegexes { out += "  \(u.rule) (\(u.origin)): \(u.reason)\n" }
        let network = d.unsupportedEvals.filter { EvalFunctions.isNetworkTest($0.function) }
        let local = d.unsupportedEvals.filter { !EvalFunctions.isNetworkTest($0.function) }
        out += "eval functions not implemented: \(local.count) (\(local.reduce(0) { $0 + $1.rules.count }) rules never hit)\n"
        for e in local { out += "  \(e.function): \(e.rules.joined(separator: " "))\n" }
        out += "network and Bayes tests not run (as spamassassin -L): \(network.count) functions, \(network.reduce(0) { $0 + $1.rules.count }) rules\n"
        for e in network { out += "  \(e.function): \(e.rules.joined(separator: " "))\n" }
        out += "directives not acted on: \(d.unknownDirectives.count) kinds, \(d.unknownDirectives.reduce(0) { $0 + $1.count }) lines\n"
        for u in d.unknownDirectives { out += "  \(u.name) ×\(u.count) (first at \(u.first))\n" }
        out += "meta rules referring to undefined rules: \(d.undefinedDependencies.count)\n"
        for u in d.undefinedDependencies { out += "  \(u.rule): \(u.missing)\n" }
        return out
    }

    static func readStandardInput() throws -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buf.withUnsafeMutableBytes { try Posix.read(0, into: $0) }
            if n <= 0 { break }
            out += buf[0..<n]
            if out.count > 64 << 20 { break }
        }
        return out
    }

    static func usage(_ problem: String? = nil) -> Int32 {
        if let problem { FileHandleStandardError.write("mdad spam: \(problem)\n") }
        FileHandleStandardError.write("""
            usage: mdad spam check [-c DIR] [--rules PATH]… [--json] FILE…
                   mdad spam lint  [-c DIR] [--rules PATH]…
                   mdad spam learn [-c DIR] [--dbpath DIR] --spam|--ham [--forget] PATH…
                   mdad spam learn [-c DIR] [--dbpath DIR] --watch [--once] MAILDIR…

            """)
        return 64
    }

    static func fail(_ text: String) -> Int32 {
        FileHandleStandardError.write("mdad spam: \(text)\n")
        return 1
    }
}

enum FileHandleStandardError {
    static func write(_ text: String) { try? Posix.writeAll(2, Array(text.utf8)) }
}

/// The little JSON `--json` needs.
enum JSON {
    static func string(_ s: String) -> String {
        JSONText.string(s)
    }

    static func number(_ d: Double) -> String {
        let r = (d * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) + ".0" : "\(r)"
    }
}

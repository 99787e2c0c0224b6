import Pipeline

/// The Bayes settings SpamAssassin reads from its .cf files (`use_bayes`, `bayes_auto_learn`,
/// the auto-learn thresholds, `bayes_min_spam_num`/`bayes_min_ham_num`, stopwords, ignored
/// headers), with SpamAssassin's defaults.
public struct BayesSettings: Sendable {
    public var useBayes = true
    public var useBayesRules = true
    public var minSpam = 200
    public var minHam = 200
    public var autoLearn = true
    public var thresholdNonspam = 0.1
    public var thresholdSpam = 12.0
    public var autoLearnOnError = false
    public var useHapaxes = true
    var tokenizer = BayesTokenizer()
    /// Lines that could not be read, as `origin: what was expected`.
    public var problems: [String] = []

    public init() {}

    /// From the `bayes_*` lines of the rule files at `paths`, without compiling their rules.
    public init(paths: [String]) {
        var reader = RuleFileReader()
        reader.read(paths: paths)
        self.init(reader.config.bayesSettings)
    }

    /// From the `bayes_*` lines of a rule set.
    public init(_ rules: RuleSet) {
        self.init(rules.bayesSettings)
    }

    init(_ lines: [(key: String, value: String)]) {
        var stopwords: [String: String] = [:]
        var languages = ["en"]
        func bool(_ v: String) -> Bool? {
            switch v.trimmingWhitespace().lowercased() {
            case "1", "yes", "on", "true": return true
            case "0", "no", "off", "false": return false
            default: return nil
            }
        }
        for (key, raw) in lines {
            let value = raw.trimmingWhitespace()
            switch key {
            case "use_bayes": useBayes = bool(value) ?? useBayes
            case "use_bayes_rules": useBayesRules = bool(value) ?? useBayesRules
            case "bayes_auto_learn": autoLearn = bool(value) ?? autoLearn
            case "bayes_auto_learn_on_error": autoLearnOnError = bool(value) ?? autoLearnOnError
            case "bayes_use_hapaxes": useHapaxes = bool(value) ?? useHapaxes
            case "bayes_auto_learn_threshold_nonspam": thresholdNonspam = Double(value) ?? thresholdNonspam
            case "bayes_auto_learn_threshold_spam": thresholdSpam = Double(value) ?? thresholdSpam
            case "bayes_min_spam_num": minSpam = Int(value) ?? minSpam
            case "bayes_min_ham_num": minHam = Int(value) ?? minHam
            case "bayes_max_token_length": tokenizer.maxTokenLength = Int(value) ?? tokenizer.maxTokenLength
            case "bayes_ignore_header":
                for w in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) { tokenizer.ignoredHeaders.insert(w.lowercased()) }
            case "bayes_stopword_languages":
                let langs = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
                languages = langs.contains("disable") ? [] : langs
            case _ where key.hasPrefix("bayes_stopword_") && key.count == "bayes_stopword_".count + 2:
                stopwords[String(key.suffix(2)).lowercased()] = value
            default: break
            }
        }
        for lang in languages {
            guard let text = stopwords[lang] else { continue }
            // Byte semantics, as Perl applies them to the tokens' octets.
            do { tokenizer.stopwords.append(try PCRERegex(text, options: [])) } catch {
                problems.append("bayes_stopword_\(lang): \(error)")
            }
        }
    }
}

extension BayesClassifier {
    /// main.cf parameters of the Bayes store (SpamAssassin's own Bayes settings come from the
    /// rule files: `use_bayes`, `bayes_auto_learn`, the thresholds …).
    public static let parameters: [ParameterDeclaration] = [
        .init("spam_bayes", .boolean, default: "no",
              "Classify with Bayes (BAYES_xx rules, score sets 2/3) and auto-learn, with the token store at spam_bayes_path."),
        .init("spam_bayes_path", .string, default: "/var/lib/mdad/bayes",
              "Directory of the Bayes token store (LMDB), written by mdad spam learn and by auto-learning."),
    ]

    /// The classifier main.cf asks for: nil unless spam_bayes = yes (or `dbPath` is given).
    public static func configured(_ c: Configuration, rules: RuleSet, dbPath: String? = nil) throws -> BayesClassifier? {
        guard try dbPath != nil || c.bool("spam_bayes") else { return nil }
        let settings = BayesSettings(rules)
        guard settings.useBayes else { return nil }
        let path = try dbPath ?? c.string("spam_bayes_path")
        do {
            return BayesClassifier(store: try BayesStore.open(directory: path), settings: settings)
        } catch {
            throw c.error("spam_bayes_path", "spam_bayes_path = \(path): cannot open the Bayes store: \(error)")
        }
    }
}

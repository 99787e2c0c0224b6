/// Everything SpamAssassin's configuration files said, as read (``RuleFileReader`` fills it;
/// ``RuleSet`` compiles it).
struct RuleConfiguration: Sendable {
    /// Rules by name; `order` keeps the order of first definition.
    var rules: [String: RuleDefinition] = [:]
    var order: [String] = []
    /// Four score sets per rule (`score NAME s0 s1 s2 s3`; one value sets all four).
    var scores: [String: [Double]] = [:]
    var tflags: [String: [String]] = [:]
    var describe: [String: String] = [:]
    var priority: [String: Int] = [:]
    var requiredScore = 5.0
    /// `add_header spam|ham|all Name template`: the fields added to spam and to ham, in order.
    var spamHeaders: [(name: String, template: String)] = []
    var hamHeaders: [(name: String, template: String)] = []
    /// True once add_header, remove_header or clear_headers was read; without any, the
    /// defaults of SpamAssassin's 10_default_prefs.cf apply.
    var headersConfigured = false
    /// `rewrite_header Subject|From|To text`.
    var rewriteHeaders: [String: String] = [:]
    var reportTemplate: [String] = []
    var reportSafe = 1
    var welcomelistFrom: [String] = []
    var blocklistFrom: [String] = []
    var trustedNetworks: [String] = []
    /// `util_rb_tld`, `util_rb_2tld`, `util_rb_3tld`: for the `:host` and `:domain` modifiers.
    var registry = RegistryBoundaries()
    var internalNetworks: [String] = []
    var replaceTags: [String: String] = [:]
    var replaceInter: [String: String] = [:]
    var replacePre: [String: String] = [:]
    var replacePost: [String: String] = [:]
    var replaceRules: Set<String> = []
    var loadedPlugins: Set<String> = []
    var compat: Set<String> = []
    /// `use_bayes`, `bayes_*` lines (auto-learn thresholds, stopwords, ignored headers …), in
    /// order; the Bayes classifier reads them.
    var bayesSettings: [(key: String, value: String)] = []
    /// Directives mdad does not know or does not act on: name → (count, first place seen).
    var unknownDirectives: [String: (count: Int, first: String)] = [:]
    /// Lines that could not be read, as `file:line: what was expected`.
    var errors: [String] = []
    var files: [String] = []

    /// SpamAssassin's 10_default_prefs.cf, for rule sets that configure no headers.
    static let defaultHeaders: [(which: String, name: String, template: String)] = [
        ("all", "Checker-Version", "SpamAssassin _VERSION_ (_SUBVERSION_) on _HOSTNAME_"),
        ("spam", "Flag", "_YESNOCAPS_"),
        ("all", "Level", "_STARS(*)_"),
        ("all", "Status", "_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_ autolearn=_AUTOLEARN_ version=_VERSION_"),
    ]

    /// Conf.pm's add_header: a field of the same name is replaced and moves to the end.
    mutating func addHeader(_ which: String, _ name: String, _ template: String) {
        headersConfigured = true
        if which == "spam" || which == "all" {
            spamHeaders.removeAll { $0.name.lowercased() == name.lowercased() }
            spamHeaders.append((name, template))
        }
        if which == "ham" || which == "all" {
            hamHeaders.removeAll { $0.name.lowercased() == name.lowercased() }
            hamHeaders.append((name, template))
        }
    }

    mutating func define(_ rule: RuleDefinition) {
        if rules[rule.name] == nil { order.append(rule.name) }
        rules[rule.name] = rule
    }

    mutating func unknown(_ directive: String, at place: String) {
        if let e = unknownDirectives[directive] {
            unknownDirectives[directive] = (e.count + 1, e.first)
        } else {
            unknownDirectives[directive] = (1, place)
        }
    }
}

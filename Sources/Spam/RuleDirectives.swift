import Pipeline

/// The directives of SpamAssassin's configuration language that mdad acts on.
extension RuleFileReader {
    /// Directives SpamAssassin knows that need no action here: network tests (mdad tests
    /// locally, like `spamassassin -L`), Bayes and AWL settings, documentation. They are not
    /// errors; `mdad spam lint` still counts them under "not acted on".
    mutating func directive(_ key: String, _ value: String, at place: String) {
        switch key {
        case "header", "body", "rawbody", "full", "uri", "mimeheader", "meta":
            defineRule(RuleType(rawValue: key)!, value, at: place)
        case "score":
            let f = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2 else { config.errors.append("\(place): score \(value): expected a rule name and 1 or 4 scores"); return }
            let numbers = f.dropFirst().map { Double($0.trimmingCharacters(in: "()")) }
            guard numbers.allSatisfy({ $0 != nil }), numbers.count == 1 || numbers.count == 4 else {
                config.errors.append("\(place): score \(value): expected a rule name and 1 or 4 numbers")
                return
            }
            let n = numbers.map { $0! }
            config.scores[String(f[0])] = n.count == 1 ? [n[0], n[0], n[0], n[0]] : n
        case "describe":
            let name = String(value.prefix { $0 != " " && $0 != "\t" })
            config.describe[name] = String(value.dropFirst(name.count)).trimmingWhitespace()
        case "tflags":
            let f = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let name = f.first else { config.errors.append("\(place): tflags: expected a rule name"); return }
            config.tflags[name] = Array(f.dropFirst())
        case "priority":
            let f = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 2, let p = Int(f[1]) else { config.errors.append("\(place): priority \(value): expected a rule name and a number"); return }
            config.priority[String(f[0])] = p
        case "required_score", "required_hits":
            guard let v = Double(value) else { config.errors.append("\(place): \(key) \(value): expected a number"); return }
            config.requiredScore = v
        case "add_header":
            let f = value.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count == 3, ["spam", "ham", "all"].contains(f[0].lowercased()) else {
                config.errors.append("\(place): add_header \(value): expected spam|ham|all, a header name and a template")
                return
            }
            var template = f[2]
            if template.count >= 2, template.hasPrefix("\""), template.hasSuffix("\"") { template = String(template.dropFirst().dropLast()) }
            config.addHeader(f[0].lowercased(), f[1], template)
        case "remove_header":
            let f = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count == 2 else { config.errors.append("\(place): remove_header \(value): expected spam|ham|all and a header name"); return }
            let which = f[0].lowercased(), name = f[1].lowercased()
            config.headersConfigured = true
            if which == "spam" || which == "all" { config.spamHeaders.removeAll { $0.name.lowercased() == name } }
            if which == "ham" || which == "all" { config.hamHeaders.removeAll { $0.name.lowercased() == name } }
        case "clear_headers":
            // Conf.pm keeps Checker-Version.
            config.headersConfigured = true
            let keep = config.hamHeaders.first { $0.name.lowercased() == "checker-version" }
            config.spamHeaders = keep.map { [$0] } ?? []
            config.hamHeaders = keep.map { [$0] } ?? []
        case "rewrite_header":
            let (field, text) = Self.split(value)
            guard ["subject", "from", "to"].contains(field) else {
                config.errors.append("\(place): rewrite_header \(value): expected Subject, From or To and a text")
                return
            }
            config.rewriteHeaders[field] = text
        case "report":
            config.reportTemplate.append(value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value)
        case "clear_report_template":
            config.reportTemplate = []
        case "report_safe":
            config.reportSafe = Int(value) ?? 1
        case "whitelist_from", "welcomelist_from":
            config.welcomelistFrom += Self.words(value).map { $0.lowercased() }
        case "unwhitelist_from", "unwelcomelist_from":
            let remove = Set(Self.words(value).map { $0.lowercased() })
            config.welcomelistFrom.removeAll { remove.contains($0) }
        case "blacklist_from", "blocklist_from":
            config.blocklistFrom += Self.words(value).map { $0.lowercased() }
        case "unblacklist_from", "unblocklist_from":
            let remove = Set(Self.words(value).map { $0.lowercased() })
            config.blocklistFrom.removeAll { remove.contains($0) }
        case "util_rb_tld", "util_rb_2tld", "util_rb_3tld":
            config.registry.add(key, value)
        case "trusted_networks":
            config.trustedNetworks += Self.words(value)
        case "clear_trusted_networks":
            config.trustedNetworks = []
        case "internal_networks":
            config.internalNetworks += Self.words(value)
        case "clear_internal_networks":
            config.internalNetworks = []
        case "replace_tag", "replace_inter", "replace_pre", "replace_post":
            let (name, text) = Self.split(value)
            guard !name.isEmpty, !text.isEmpty else { config.errors.append("\(place): \(key) \(value): expected a tag name and a regex"); return }
            let tag = String(value.prefix { $0 != " " && $0 != "\t" })
            switch key {
            case "replace_tag": config.replaceTags[tag] = text
            case "replace_inter": config.replaceInter[tag] = text
            case "replace_pre": config.replacePre[tag] = text
            default: config.replacePost[tag] = text
            }
        case "replace_rules":
            for w in Self.words(value) { config.replaceRules.insert(w) }
        case "loadplugin", "tryplugin":
            if let name = Self.words(value).first { config.loadedPlugins.insert(name) }
        case "enable_compat":
            config.compat.insert(value)
        case "lang":
            // Translations of describe/report lines: mdad reports in English.
            break
        case "require_version", "version_tag", "test", "reuse":
            break
        case _ where key.hasPrefix("bayes_") || key == "use_bayes" || key == "use_bayes_rules" || key == "use_learner":
            config.bayesSettings.append((key, value))
        default:
            config.unknown(key, at: place)
        }
    }

    static func words(_ value: String) -> [String] {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// `header NAME …`, `body NAME /re/`, `meta NAME expr` …
    mutating func defineRule(_ type: RuleType, _ value: String, at place: String) {
        let name = String(value.prefix { $0 != " " && $0 != "\t" })
        let rest = Substring(String(value.dropFirst(name.count)).trimmingWhitespace())
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            config.errors.append("\(place): \(type.rawValue) \(value): expected a rule name of letters, digits and _")
            return
        }
        guard !rest.isEmpty else {
            config.errors.append("\(place): \(type.rawValue) \(name): expected a test after the rule name")
            return
        }
        var rule = RuleDefinition(name: name, type: type, origin: place)
        switch type {
        case .meta:
            rule.meta = String(rest)
        case .header, .mimeheader:
            if let e = EvalCall(rest) { rule.eval = e; break }
            if rest.hasPrefix("exists:") {
                rule.header = (HeaderQuery(String(rest.dropFirst(7)).trimmingWhitespace()), .exists, nil)
                break
            }
            guard let opRange = rest.firstRange(of: "=~") ?? rest.firstRange(of: "!~") else {
                config.errors.append("\(place): \(type.rawValue) \(name): expected \"Header =~ /regex/\", exists:Header or eval:")
                return
            }
            let negated = rest[opRange] == "!~"
            let query = HeaderQuery(String(rest[..<opRange.lowerBound]).trimmingWhitespace())
            guard let (re, after) = PerlRegex.parse(rest[opRange.upperBound...]) else {
                config.errors.append("\(place): \(type.rawValue) \(name): expected a /regex/ after \(negated ? "!~" : "=~")")
                return
            }
            var ifUnset: String?
            let tail = String(after).trimmingWhitespace()
            if tail.hasPrefix("[if-unset:"), tail.hasSuffix("]") {
                ifUnset = String(tail.dropFirst(10).dropLast()).trimmingWhitespace()
            } else if !tail.isEmpty {
                config.errors.append("\(place): \(type.rawValue) \(name): unexpected \"\(tail)\" after the regex")
                return
            }
            rule.header = (query, negated ? .doesNotMatch(re) : .matches(re), ifUnset)
        case .body, .rawbody, .full, .uri:
            if let e = EvalCall(rest) { rule.eval = e; break }
            guard let (re, after) = PerlRegex.parse(rest), String(after).trimmingWhitespace().isEmpty else {
                config.errors.append("\(place): \(type.rawValue) \(name): expected /regex/flags or eval:function(…)")
                return
            }
            rule.regex = re
        }
        config.define(rule)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}

import Pipeline

/// The `eval:` functions of SpamAssassin's plugins that mdad implements in Swift: the frequent
/// ones that need only the message. Every other eval rule never hits, and `mdad spam lint`
/// lists it (network tests such as DNSBLs are left out on purpose, as `spamassassin -L`
/// leaves them out).
enum EvalFunctions {
    typealias Function = @Sendable (_ arguments: [String], _ message: SpamMessage, _ rules: RuleSet) -> Bool

    static func run(_ call: EvalCall, _ message: SpamMessage, _ rules: RuleSet) -> Bool {
        table[call.function]?(call.arguments, message, rules) ?? false
    }

    /// Evals that ask the network (DNS lists, SPF, DKIM, DMARC, DCC, Razor, Pyzor, …): not run,
    /// as `spamassassin -L` does not run them.
    static func isNetworkTest(_ function: String) -> Bool {
        let prefixes = ["check_rbl", "check_uridnsbl", "check_dkim", "check_dmarc", "check_for_spf", "check_dcc", "check_razor",
                        "check_pyzor", "check_dns", "check_uri_host_listed", "check_hashbl", "check_senders_reputation",
                        "check_for_def_spf", "check_for_spf", "check_for_dkim", "check_for_def_dkim", "check_asn", "askdns",
                        "check_rbl_txt", "check_dns_sender", "check_arc", "check_access_database", "check_from_in_auto"]
        return prefixes.contains { function.hasPrefix($0) }
    }

    /// Every eval implemented: these, HeaderEvalFunctions' and MIMEEvalFunctions'.
    static let table: [String: Function] = {
        var t = core
        for (name, f) in HeaderEvalFunctions.table { t[name] = f }
        for (name, f) in MIMEEvalFunctions.table { t[name] = f }
        return t
    }()

    static let core: [String: Function] = [
        // Bayes: the probability is in (min, max] (min 0 includes 0; max "undef" has no top).
        "check_bayes": { a, m, _ in BayesClassifier.inRange(m.bayesProbability, a) },
        // HeaderEval: no To: (nor Apparently-To:).
        "check_for_missing_to_header": { _, m, _ in
            (m.get(HeaderQuery("To")) ?? []).allSatisfy(SpamMessage.isSpace)
                && (m.get(HeaderQuery("Apparently-To")) ?? []).allSatisfy(SpamMessage.isSpace)
        },
        // HeaderEval: the number of distinct values of a header is within [min, max].
        "check_header_count_range": { a, m, _ in
            guard a.count == 3, let lo = Int(a[1]), let hi = Int(a[2]) else { return false }
            let key = a[0].lowercased()
            let n = Set(m.fields.filter { $0.key == key }.map(\.decoded)).count
            return n >= lo && n <= hi
        },
        // HeaderEval: a Subject of several words, at least 10 characters, all capitals.
        "subject_is_all_caps": { _, m, _ in
            guard var s = m.get(HeaderQuery("Subject")).map({ String(decoding: $0, as: UTF8.self) }) else { return false }
            s = s.trimmingWhitespace()
            if let p = replyPrefix, let r = try? p.firstMatch(in: Array(s.utf8)) { s = String(decoding: Array(s.utf8)[r.range.upperBound...], as: UTF8.self) }
            guard s.contains(where: { $0 == " " || $0 == "\t" }), s.utf8.count >= 10 else { return false }
            let letters = s.unicodeScalars.filter { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") }
            guard !letters.isEmpty else { return false }
            return letters.allSatisfy { $0 >= "A" && $0 <= "Z" }
        },
        // MIMEEval: facts recorded while parsing.
        "check_msg_parse_flags": { a, m, _ in
            switch a.last ?? "" {
            case "missing_head_body_separator": return m.missingHeaderSeparator
            case "truncated_header": return m.truncatedHeader
            default: return false
            }
        },
        // MIMEEval: counts and flags over the MIME parts (mime_base64_count, mime_qp_count,
        // mime_attachment, mime_base64_encoded_text, mime_bad_iso_charset).
        "check_for_mime": { a, m, _ in (m.mimeFacts[a.last ?? ""] ?? 0) > 0 },
        "check_for_mime_html": { _, m, _ in m.htmlParts > 0 },
        "check_for_mime_html_only": { _, m, _ in m.htmlParts > 0 && m.plainParts == 0 },
        // BodyEval: the body as received is at most N bytes.
        "check_body_length": { a, m, _ in
            guard let n = a.last.flatMap({ Int($0) }) else { return false }
            return m.pristineBodyLength <= n
        },
        // WLBLEval: the From: (or envelope) address on welcomelist_from / blocklist_from.
        "check_from_in_welcomelist": { _, m, r in Lists.fromMatches(m, r.welcomelist) },
        "check_from_in_whitelist": { _, m, r in Lists.fromMatches(m, r.welcomelist) },
        "check_from_in_blocklist": { _, m, r in Lists.fromMatches(m, r.blocklist) },
        "check_from_in_blacklist": { _, m, r in Lists.fromMatches(m, r.blocklist) },
    ]
}

/// welcomelist_from and blocklist_from: glob patterns (`*@example.com`, `?`) against the
/// sender addresses SpamAssassin's WLBLEval reads (From, Resent-From, Envelope-Sender, …).
enum Lists {
    static func fromMatches(_ m: SpamMessage, _ patterns: [String]) -> Bool {
        guard !patterns.isEmpty else { return false }
        var addresses: [String] = []
        for h in ["From", "Resent-From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From"] {
            if let v = m.get(HeaderQuery(h + ":addr")) {
                addresses += v.split(separator: 10).map { String(decoding: $0, as: UTF8.self).lowercased() }
            }
        }
        if let e = m.envelopeFrom { addresses.append(e.lowercased()) }
        return addresses.contains { a in patterns.contains { glob($0, a) } }
    }

    /// `*` any run, `?` one character; whole-string, case already folded.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] { pi += 1; ti += 1 }
            else if pi < p.count, p[pi] == UInt8(ascii: "*") { star = pi; mark = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ti = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// Reply and forward prefixes (`Re: Fwd: `) left out of subject_is_all_caps: compiled once.
private let replyPrefix = try? PCRERegex("^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\\s*)+", options: [.caseless])

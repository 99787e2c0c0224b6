import Pipeline

/// Which header fields the Bayes tokenizer reads, and how it prepares them (Bayes.pm
/// `_tokenize_headers`): every field but the well-known noisy ones, only the last two
/// Received fields, addresses reduced to their parts, Message-IDs and Received lines stripped
/// of what is unique to each message, some names shortened.
extension BayesTokenizer {
    /// The fields SpamAssassin leaves out: misc noise, Subject and Date, list and scanner
    /// annotations, mailbox software's flags.
    static let ignoredNames = try? PCRERegex("""
        ^(?:(?:X-)?Sender|Delivered-To|Delivery-Date|(?:X-)?Envelope-To|X-MIME-Auto[Cc]onverted|X-Converted-To-Plain-Text\
        |Subject|Date|X-List|(?:X-)?Mailing-List\
        |(?:X-)?List-(?:Archive|Help|Id|Owner|Post|Subscribe|Unsubscribe|Host|Manager|Admin|Comment|Name|Url)\
        |X-Unsub(?:scribe)?|X-Mailman-Version|X-Been[Tt]here|X-Loop|Mail-Followup-To|X-eGroups-(?:Return|From)\
        |X-MDMailing-List|X-XEmacs-List|X-Sympa-To|(?:X-)?Resent-(?:From|To|Date)|(?:X-)?Original-(?:From|To|Date)\
        |X-MailScanner(?:-SpamCheck)?|X-Spam(?:-(?:Status|Level|Flag|Report|Hits|Score|Checker-Version))?\
        |X-Antispam|X-RBL-Warning|X-Mailscanner|X-MDaemon-Deliver-To|X-Virus-Scanned|X-Mass-Check-Id|X-Pyzor\
        |X-DCC-\\S{2,25}-Metrics|X-Filtered-B[Yy]|X-Scanned-By|X-Scanner|X-AP-Spam-(?:Score|Status)|X-RIPE-Spam-Status\
        |X-SpamCop-[^:]+|X-SMTPD|(?:X-)?Spam-Apparently-To|SPAM|X-Perlmx-Spam|X-Bogosity\
        |Content-Class|Thread-(?:Index|Topic)|X-Original[Aa]rrival[Tt]ime\
        |(?:X-)?Status|X-Flags|X-Keywords|Replied|Forwarded|Lines|Content-Length|X-UIDL?|X-IMAPbase\
        |X-Bugzilla-[^:]+|X-VM-(?:Bookmark|(?:POP|IMAP)-Retrieved|Labels|Last-Modified|Summary-Format|VHeader|v\\d-Data|Message-Order)\
        |X-Gnus-Mail-Source|Xref):
        """, options: [.caseless])

    /// Fields only noted as present: signatures and keys make many one-off tokens.
    static let presenceOnly = try? PCRERegex(
        "^(?:X-Face|X-(?:Gnu-?PG|PGP|GPG)(?:-Key)?-Fingerprint|D(?:KIM|omainKey)-Signature|X-Google-DKIM-Signature|ARC-(?:Message-Signature|Seal)|Autocrypt)$",
        options: [.caseless])

    /// Short names for frequent fields (case as written).
    static let shortNames: [String: String] = [
        "Message-Id": "*m", "Message-ID": "*M", "Received": "*r", "User-Agent": "*u", "References": "*f",
        "In-Reply-To": "*i", "From": "*F", "Reply-To": "*R", "Return-Path": "*p", "Return-path": "*rp",
        "X-Mailer": "*x", "X-Authentication-Warning": "*a", "Organization": "*o", "Organisation": "*o",
        "Content-Type": "*ct", "Content-Disposition": "*cd", "Content-Transfer-Encoding": "*ce",
    ]

    static let addressNames: Set<String> = ["return-path", "from", "to", "cc", "reply-to", "errors-to", "mail-followup-to", "sender"]

    /// (prefix name, text) per header name, values of repeated fields joined by a space.
    func headerTexts(_ m: SpamMessage) -> [(String, [UInt8])] {
        var chosen: [SpamMessage.Field] = []
        var received: [SpamMessage.Field] = []
        for f in m.fields {
            if f.key == "received" { received.append(f); continue }
            if let re = Self.ignoredNames, (try? re.firstMatch(in: Array((f.name + ":").utf8))) != nil { continue }
            chosen.append(f)
        }
        if let last = received.last { chosen.append(last) }
        if received.count >= 2 { chosen.append(received[received.count - 2]) }
        var order: [String] = []
        var parsed: [String: [UInt8]] = [:]
        func add(_ name: String, _ value: [UInt8]) {
            if parsed[name] != nil { parsed[name]! += [32] + value } else { parsed[name] = value; order.append(name) }
        }
        for f in chosen {
            guard !ignoredHeaders.contains(f.key) else { continue }
            var value = f.decoded
            let key = f.key
            var unprefixed = key
            for p in ["x-", "resent-"] where unprefixed.hasPrefix(p) { unprefixed = String(unprefixed.dropFirst(p.count)) }
            if unprefixed == "message-id" {
                value = Self.chewMessageID(value)
            } else if Self.addressNames.contains(unprefixed) {
                value = Self.chewAddresses(value)
            } else if f.name == "Received" {
                value = Self.chewReceived(value)
            } else if f.name == "Content-Type" {
                value = Self.chewContentType(value)
            } else if f.name == "MIME-Version" {
                if let r = value.firstRange(of: Array("1.0".utf8)) { value.removeSubrange(r) }
            } else if let re = Self.presenceOnly, (try? re.firstMatch(in: Array(f.name.utf8))) != nil {
                value = [49]
            }
            if ["in-reply-to", "references", "message-id"].contains(key) { add("*MI", value) }
            if ["from", "to", "cc"].contains(key) { add("*Ad", value) }
            if ["x-mailer", "user-agent"].contains(key) { add("*UA", value) }
            add(Self.shortNames[f.name] ?? f.name, value)
        }
        return order.map { ($0, parsed[$0]!) }
    }

    /// Phrase words as `N*word`, addresses as `U*local D*domain D*parent…`.
    static func chewAddresses(_ value: [UInt8]) -> [UInt8] {
        var words: [[UInt8]] = []
        for mb in AddressList.parse(value).mailboxes {
            if let phrase = mb.displayName, !phrase.isEmpty {
                for w in phrase.utf8.split(whereSeparator: { $0 == 32 || $0 == 9 }) { words.append(Array("N*".utf8) + w) }
            }
            words += addressTokens(Array(mb.address.utf8))
        }
        return Array(words.joined(separator: [32]))
    }

    static let messageIDRules: [(PCRERegex?, String, Bool)] = [
        (try? PCRERegex("<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\\$([0-9a-f]{4})[0-9a-f]{4}\\$([0-9a-f]{8})@(\\S+)>"), " OEA$1 OEB$2 OEC$3 $4 ", true),
        (try? PCRERegex("<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]@"), "", false),
        (try? PCRERegex("<20\\d\\d[01]\\d[0123]\\d[012]\\d[012345]\\d[012345]\\d\\.[A-F0-9]{10,12}@"), "", true),
    ]

    /// Outlook Express ids shortened, exim and timestamp ids dropped, punctuation to spaces.
    static func chewMessageID(_ value: [UInt8]) -> [UInt8] {
        var v = value
        for (re, replacement, global) in messageIDRules {
            guard let re else { continue }
            v = substitute(re, in: v, with: replacement, global: global)
        }
        return v.map { isWord($0) ? $0 : 32 }
    }

    static let receivedRules: [(PCRERegex?, String)] = [
        (try? PCRERegex("\\swith\\sSMTP\\sid\\sg[\\dA-Z]{10,12}\\s"), " "),
        (try? PCRERegex("\\swith\\sESMTP\\sid\\s[\\dA-F]{10,12}\\s"), " "),
        (try? PCRERegex("\\bid\\s[a-zA-Z0-9]{7,20}\\b"), " "),
        (try? PCRERegex("\\bid\\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]"), " "),
        (try? PCRERegex("(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\\s)?[0-3\\s]?[0-9]\\s(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\\s(?:19|20)?[0-9]{2}\\s[0-2][0-9](?:\\:[0-5][0-9]){1,2}\\s(?:\\s*\\(|\\)|\\s*(?:[+-][0-9]{4})|\\s*(?:UT|[A-Z]{2,3}T))*"), ""),
        (try? PCRERegex("\\b(\\d{1,3}\\.)(\\d{1,3}\\.)(\\d{1,3})(\\.\\d{1,3})\\b"), "$IP"),
        (try? PCRERegex("\\b(?:with|from|for|SMTP|ESMTP)\\b"), " "),
    ]

    /// Queue ids and dates dropped, IPv4 addresses also as `ip*a.b.c.d` (the /24 kept).
    static func chewReceived(_ value: [UInt8]) -> [UInt8] {
        var v = value
        for (re, replacement) in receivedRules {
            guard let re else { continue }
            v = substitute(re, in: v, with: replacement, global: true)
        }
        return v
    }

    static let boundary = try? PCRERegex("boundary=[\"'](.*?)[\"']", options: [.caseless])
    static let textOrCharset = try? PCRERegex("\\b(?:text|charset)\\b")

    /// The boundary's shape (hex digits as `H`) instead of its value; `text` and `charset` out.
    static func chewContentType(_ value: [UInt8]) -> [UInt8] {
        var v = value
        if let re = boundary, let m = try? re.firstMatch(in: v), let g = m.groups[1] {
            var shape: [UInt8] = []
            for b in v[g] {
                let hex = (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)
                if b == 45 || b == 95 || b == 46 || b == 61 {
                    if shape.last.map({ $0 == 45 || $0 == 95 || $0 == 46 || $0 == 61 }) == true { shape.append(b) } else { shape += [32, b] }
                } else {
                    if shape.last.map({ $0 == 45 || $0 == 95 || $0 == 46 || $0 == 61 }) == true { shape.append(32) }
                    shape.append(hex ? 72 : b)
                }
            }
            if shape.last.map({ $0 == 45 || $0 == 95 || $0 == 46 || $0 == 61 }) == true { shape.append(32) }
            v = substitute(re, in: v, with: " ", global: true) + shape
        }
        if let re = textOrCharset { v = substitute(re, in: v, with: " ", global: true) }
        return v
    }

    /// Perl's `s/re/replacement/` with `$1`…`$9` in the replacement; `$IP` is the Received
    /// IPv4 rule's own replacement.
    static func substitute(_ re: PCRERegex, in text: [UInt8], with replacement: String, global: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var pos = 0
        var rounds = 0
        while pos <= text.count, rounds < 10_000, let m = try? re.firstMatch(in: text, from: pos) {
            rounds += 1
            out += text[pos..<m.range.lowerBound]
            func group(_ i: Int) -> [UInt8] { m.groups.count > i ? m.groups[i].map { Array(text[$0]) } ?? [] : [] }
            if replacement == "$IP" {
                let (a, b, c, d) = (group(1), group(2), group(3), group(4))
                // Bayes.pm compares $2 (which ends in a dot) with "10" and "192": never equal,
                // so the last octet is always left out of the plain form.
                out += a + b + c + Array(" ip*".utf8) + a + b + c + d + [32]
            } else {
                var r = Array(replacement.utf8)[...]
                while let first = r.first {
                    if first == 36, r.count >= 2, let n = Int(String(UnicodeScalar(r[r.startIndex + 1]))) {
                        out += group(n)
                        r = r.dropFirst(2)
                    } else {
                        out.append(first)
                        r = r.dropFirst()
                    }
                }
            }
            if m.range.isEmpty {
                if m.range.upperBound < text.count { out.append(text[m.range.upperBound]) }
                pos = m.range.upperBound + 1
            } else {
                pos = m.range.upperBound
            }
            if !global { break }
        }
        if pos < text.count { out += text[pos...] }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Vacation replies (RFC 5230) and notification messages (RFC 5436), with RFC 3834's rules:
/// never to the null sender, mailing lists or automatic mail; one reply per sender and
/// handle per period.
enum SieveVacationReply {
    static let robotLocalParts = ["mailer-daemon", "listserv", "majordomo", "owner-", "-request", "bounce", "noreply", "no-reply"]
    static let listHeaders = ["list-id", "list-owner", "list-unsubscribe", "list-subscribe", "list-post", "list-help", "list-archive"]

    /// Why no reply goes to this message, or nil when one may.
    static func suppression(_ v: SieveVacation, message: Message, sender: String, userAddresses: [String]) -> String? {
        if sender.isEmpty { return "the envelope sender is <>" }
        let local = SieveStrings.asciiLower(SieveAddresses.split(sender).local)
        for r in robotLocalParts where local == r || (r.hasPrefix("-") && local.hasSuffix(r)) || (r.hasSuffix("-") && local.hasPrefix(r)) {
            return "the sender <\(sender)> is a robot"
        }
        let h = message.header
        if let a = h["Auto-Submitted"], SieveStrings.asciiLower(a.value) != "no" { return "the message is auto-submitted" }
        if let p = h["Precedence"], ["junk", "bulk", "list"].contains(SieveStrings.asciiLower(p.value)) { return "the message has Precedence: \(p.value)" }
        for l in listHeaders where h.contains(l) { return "the message is from a mailing list (\(l))" }
        let mine = Set(userAddresses.map(SieveStrings.asciiLower))
        if mine.contains(SieveStrings.asciiLower(sender)) { return "the sender is the user" }
        // "the user's address is not in a recipient header": the message was not sent to them.
        var seen = false
        for name in ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"] {
            for f in h.all(name) {
                for m in AddressList.parse(f).mailboxes where mine.contains(SieveStrings.asciiLower(m.address)) { seen = true }
            }
        }
        if !seen { return "no address of the user is in a recipient header" }
        return nil
    }

    static func make(_ v: SieveVacation, message: Message, sender: String, user: RulesUser, recipient: Recipient,
                     hostName: String, store: SieveResponseStore?, now: Int, log: (String) -> Void) -> OutboundMessage? {
        var addresses = [recipient.address] + v.addresses
        if let o = recipient.originalAddress { addresses.append(o) }
        if let f = v.from, let m = AddressList.parse(f).mailboxes.first { addresses.append(m.address) }
        if let why = suppression(v, message: message, sender: sender, userAddresses: addresses) {
            log("no reply to <\(sender)>: \(why)")
            return nil
        }
        guard let store else {
            log("no reply to <\(sender)>: no response store for the user")
            return nil
        }
        do {
            guard try store.claim("vacation\u{1}\(SieveStrings.asciiLower(sender))\u{1}\(v.handle)", seconds: v.seconds, now: now) else {
                log("no reply to <\(sender)>: already answered within \(v.seconds)s")
                return nil
            }
        } catch {
            log("no reply to <\(sender)>: response store: \(error)")
            return nil
        }
        let original = message.header["Subject"].map { EncodedWord.decode($0).trimmingCharacters() } ?? ""
        let subject = v.subject ?? "Auto: \(original)"
        var head: [String] = []
        head.append("From: \(v.from ?? "<\(recipient.address)>")")
        head.append("To: <\(sender)>")
        head.append("Subject: \(EncodedWord.encodeIfNeeded(oneLine(subject)))")
        if let id = message.header["Message-ID"]?.value, !id.isEmpty {
            head.append("In-Reply-To: \(oneLine(id))")
            let refs = message.header["References"]?.value ?? message.header["In-Reply-To"]?.value ?? ""
            head.append("References: \(oneLine(refs.isEmpty ? id : refs + " " + id))")
        }
        head += commonHeaders(hostName: hostName, now: now)
        head.append("Auto-Submitted: auto-replied (vacation)")
        head.append("Precedence: bulk")
        head.append("MIME-Version: 1.0")
        var text = head.joined(separator: "\n") + "\n"
        if v.mime {
            text += v.reason.replacingLineEnds()
        } else {
            text += "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + v.reason.replacingLineEnds()
        }
        if !text.hasSuffix("\n") { text += "\n" }
        return OutboundMessage(sender: "", recipients: [sender], data: Array(text.utf8))
    }

    static func notification(_ n: SieveNotification, message: Message, user: RulesUser, hostName: String, now: Int) -> OutboundMessage {
        let original = message.header["Subject"].map { EncodedWord.decode($0).trimmingCharacters() } ?? ""
        let from = message.header["From"].map { EncodedWord.decode($0).trimmingCharacters() } ?? ""
        var subject = n.message ?? "[SIEVE] New mail from \(from): \(original)"
        var body = "Notification of new message.\n"
        if let q = n.method.firstIndex(of: "?") {
            for (k, v) in SieveNotify.headers(String(n.method[n.method.index(after: q)...])) {
                if k == "subject" { subject = v }
                if k == "body" { body = v + "\n" }
            }
        }
        var head = ["From: \(n.from ?? "Postmaster <postmaster@\(hostName)>")",
                    "To: \(n.recipients.map { "<\($0)>" }.joined(separator: ", "))",
                    "Subject: \(EncodedWord.encodeIfNeeded(oneLine(subject)))"]
        head += commonHeaders(hostName: hostName, now: now)
        head += ["Auto-Submitted: auto-notified", "Precedence: bulk", "MIME-Version: 1.0",
                 "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        if n.importance == 1 { head.append("X-Priority: 1 (Highest)") } else if n.importance == 3 { head.append("X-Priority: 5 (Lowest)") }
        let text = head.joined(separator: "\n") + "\n\n" + body.replacingLineEnds()
        return OutboundMessage(sender: "", recipients: n.recipients, data: Array(text.utf8))
    }

    static func commonHeaders(hostName: String, now: Int) -> [String] {
        ["Date: \(Posix.localTime(now, format: "%a, %d %b %Y %H:%M:%S %z"))",
         "Message-ID: <\(QueueID.make()).\(now)@\(hostName)>"]
    }

    static func oneLine(_ s: String) -> String {
        String(s.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : Character($0) })
    }
}

extension String {
    /// CRLF and CR line ends as LF (the outbound transport writes its own).
    func replacingLineEnds() -> String {
        var out = ""
        var prevCR = false
        for c in unicodeScalars {
            if c == "\r" { out.append("\n"); prevCR = true; continue }
            if c == "\n", prevCR { prevCR = false; continue }
            prevCR = false
            out.unicodeScalars.append(c)
        }
        return out
    }
}

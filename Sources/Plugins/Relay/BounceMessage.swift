#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// A delivery status notification (RFC 3464): multipart/report with a text part for people,
/// a message/delivery-status part with one block per failed recipient, and the original
/// message's header (text/rfc822-headers), as Postfix's bounce(8) writes it.
public struct BounceMessage: Sendable {
    public struct Failure: Sendable, Equatable {
        public var recipient: String
        public var originalRecipient: String?
        public var status: EnhancedStatus
        /// `smtp; 550 5.1.1 …` when a server said it; else mdad's words.
        public var diagnostic: String
        public var remoteMTA: String?
        public init(recipient: String, originalRecipient: String?, status: EnhancedStatus, diagnostic: String, remoteMTA: String?) {
            self.recipient = recipient
            self.originalRecipient = originalRecipient
            self.status = status
            self.diagnostic = diagnostic
            self.remoteMTA = remoteMTA
        }
    }

    public var queueID: String
    public var hostName: String
    public var sender: String
    public var arrival: Int
    public var envid: String?
    public var failures: [Failure]
    /// The original header section (bytes up to the empty line).
    public var originalHeader: [UInt8]
    /// A delay notice (Action: delayed, the message is still being retried) rather than a bounce.
    public var delayed = false

    public init(queueID: String, hostName: String, sender: String, arrival: Int, envid: String?, failures: [Failure], originalHeader: [UInt8],
                delayed: Bool = false) {
        self.delayed = delayed
        self.queueID = queueID
        self.hostName = hostName
        self.sender = sender
        self.arrival = arrival
        self.envid = envid
        self.failures = failures
        self.originalHeader = originalHeader
    }

    /// Whether a bounce is sent at all: never to `<>` (no bounce of a bounce), and not for
    /// recipients whose NOTIFY leaves out FAILURE.
    public static func wanted(sender: String, notify: String?, delay: Bool = false) -> Bool {
        guard !sender.isEmpty else { return false }
        guard let n = notify?.uppercased() else { return true }
        return n.split(separator: ",").contains(delay ? "DELAY" : "FAILURE")
    }

    static func date(_ t: Int) -> String { Posix.localTime(t, format: "%a, %e %b %Y %H:%M:%S %z") }

    public func build(now: Int = Int(time(nil))) -> OutboundMessage {
        let boundary = "\(queueID).\(now)/\(hostName)"
        var t = ""
        t += "From: MAILER-DAEMON@\(hostName) (Mail Delivery System)\r\n"
        t += delayed ? "Subject: Delayed Mail (still being retried)\r\n" : "Subject: Undelivered Mail Returned to Sender\r\n"
        t += "To: \(sender)\r\n"
        t += "Auto-Submitted: auto-replied\r\n"
        t += "MIME-Version: 1.0\r\n"
        t += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"\(boundary)\"\r\n"
        t += "Content-Transfer-Encoding: 8bit\r\n"
        t += "Date: \(Self.date(now))\r\n"
        t += "Message-Id: <\(queueID).\(now)@\(hostName)>\r\n\r\n"
        t += "This is a MIME-encapsulated message.\r\n\r\n"
        t += "--\(boundary)\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        t += "This is the mail system at host \(hostName).\r\n\r\n"
        t += delayed
            ? "####################################################################\r\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n####################################################################\r\n\r\nYour message could not be delivered for some time.\r\nIt will be retried until it is too old.\r\n\r\n"
            : "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients. It's attached below.\r\n\r\n"
        t += "For further assistance, please send mail to postmaster.\r\n\r\n"
        t += "If you do so, please include this problem report. You can\r\ndelete your own text from the attached returned message.\r\n\r\n"
        t += "                   The mail system\r\n\r\n"
        for f in failures { t += "<\(f.recipient)>: \(f.diagnostic)\r\n\r\n" }
        t += "--\(boundary)\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        t += "Reporting-MTA: dns; \(hostName)\r\nX-Postfix-Queue-ID: \(queueID)\r\nX-Postfix-Sender: rfc822; \(sender)\r\n"
        if let envid { t += "Original-Envelope-Id: \(envid)\r\n" }
        t += "Arrival-Date: \(Self.date(arrival))\r\n"
        for f in failures {
            t += "\r\nFinal-Recipient: rfc822; \(f.recipient)\r\n"
            if let o = f.originalRecipient { t += "Original-Recipient: \(o)\r\n" }
            t += "Action: \(delayed ? "delayed" : "failed")\r\nStatus: \(f.status)\r\n"
            if let m = f.remoteMTA { t += "Remote-MTA: dns; \(m)\r\n" }
            t += "Diagnostic-Code: \(f.diagnostic)\r\n"
        }
        t += "\r\n--\(boundary)\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        var data = Array(t.utf8) + originalHeader
        if let last = originalHeader.last, last != 10 { data += [13, 10] }
        data += Array("\r\n--\(boundary)--\r\n".utf8)
        return OutboundMessage(sender: "", recipients: [sender], data: data)
    }

    /// The header section of a message at `offset` in a file: up to the empty line, at most `limit` bytes.
    public static func readHeader(path: String, offset: Int, limit: Int = 1 << 20) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        var pos = offset
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { (try? Posix.pread(fd, into: $0, offset: pos)) ?? 0 }
            if n <= 0 { break }
            out += chunk[0..<n]
            pos += n
            if let r = out.firstRange(of: [10, 10]) { return Array(out[..<(r.lowerBound + 1)]) }
            if let r = out.firstRange(of: [10, 13, 10]) { return Array(out[..<(r.lowerBound + 1)]) }
        }
        return Array(out.prefix(limit))
    }
}

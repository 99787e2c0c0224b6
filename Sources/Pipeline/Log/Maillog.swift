#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Log lines in Postfix's maillog format, so pflogsumm, fail2ban and grep habits keep working:
///
///     Nov 24 23:48:59 host mdad/deliver[1234]: 0A1B2C3D4E5F: to=<a@example.com>, relay=local, ...
///
/// Lines go to `maillog_file`, or to standard error. On standard error they are held until
/// `flush()`, so that a failing `mdad deliver` can print its status line first: Postfix reads
/// an enhanced status code at the very start of a command's output.
public final class Maillog: @unchecked Sendable {
    public enum Destination: Sendable, Equatable {
        case standardError
        case file(String)
        /// syslog(3) with this facility (`LOG_MAIL` and so on), as Postfix logs by default.
        case syslog(facility: Int32)
    }

    /// syslog(3) facility names, as Postfix's `syslog_facility` takes them.
    public static func facility(named name: String) -> Int32? {
        let table: [String: Int32] = [
            "mail": LOG_MAIL, "user": LOG_USER, "daemon": LOG_DAEMON, "auth": LOG_AUTH,
            "local0": LOG_LOCAL0, "local1": LOG_LOCAL1, "local2": LOG_LOCAL2, "local3": LOG_LOCAL3,
            "local4": LOG_LOCAL4, "local5": LOG_LOCAL5, "local6": LOG_LOCAL6, "local7": LOG_LOCAL7,
        ]
        return table[name.lowercased()]
    }

    public let program: String
    public let host: String
    public let destination: Destination
    private var pending: [String] = []
    private var mutex = pthread_mutex_t()

    public init(program: String, hostName: String, destination: Destination) {
        self.program = program
        self.host = String(hostName.split(separator: ".").first ?? Substring(hostName))
        self.destination = destination
        pthread_mutex_init(&mutex, nil)
        if case .syslog(let facility) = destination {
            // openlog keeps the pointer: the ident string must live as long as the process.
            openlog(Maillog.ident(program), LOG_PID | LOG_NDELAY, facility)
        }
    }

    private static func ident(_ program: String) -> UnsafeMutablePointer<CChar> {
        strdup(program)!
    }

    /// Writes one line with the syslog-style prefix.
    public func log(_ text: String) {
        if case .syslog = destination {
            // syslogd writes the timestamp, host and program[pid] prefix itself.
            let priority = text.hasPrefix("warning: ") ? LOG_WARNING
                : text.hasPrefix("error: ") ? LOG_ERR
                : text.hasPrefix("fatal: ") ? LOG_CRIT : LOG_INFO
            text.withCString { message in
                withVaList([message]) { vsyslog(priority, "%s", $0) }
            }
            return
        }
        let line = "\(Maillog.timestamp()) \(host) \(program)[\(getpid())]: \(text)\n"
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        switch destination {
        case .syslog:
            break
        case .standardError:
            pending.append(line)
        case .file(let path):
            if !Maillog.append(line, to: path) {
                pending.append(line)   // fall back to standard error
            }
        }
    }

    /// Writes the held lines to standard error.
    public func flush() {
        pthread_mutex_lock(&mutex)
        let lines = pending
        pending = []
        pthread_mutex_unlock(&mutex)
        for line in lines { try? Posix.writeAll(2, Array(line.utf8)) }
    }

    /// Appends with O_APPEND, one write per line, so lines from several processes never interleave.
    static func append(_ line: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return (try? Posix.writeAll(fd, Array(line.utf8), path: path)) != nil
    }

    /// `Mmm dd hh:mm:ss` in local time, as syslog writes it.
    static func timestamp() -> String {
        Posix.localTime(Int(time(nil)), format: "%b %e %H:%M:%S")
    }

    /// A swift-log handler writing through this log (warnings as `warning: …`, as Postfix does).
    public func handler(label: String) -> MaillogHandler { MaillogHandler(log: self) }

    // MARK: Postfix's record formats

    /// Postfix's delay format: two significant digits for small values, whole seconds past 10.
    public static func formatDelay(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s >= 10 { return String(Int(s.rounded())) }
        let scaled = s >= 1 ? (s * 10).rounded() / 10 : (s * 100).rounded() / 100
        if scaled == 0 { return "0" }
        var text = String(scaled)
        if text.contains("e") { return "0" }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// `QUEUEID: from=<sender>, size=N, nrcpt=N (queue active)`.
    public static func messageLine(queueID: String, sender: String, size: Int, recipients: Int) -> String {
        "\(queueID): from=<\(sender)>, size=\(size), nrcpt=\(recipients) (queue active)"
    }

    /// `QUEUEID: to=<…>, orig_to=<…>, relay=…, delay=…, delays=a/b/c/d, dsn=…, status=… (…)`.
    public static func recipientLine(queueID: String, to: String, originalTo: String?, relay: String,
                                     delay: Double, delays: (Double, Double, Double, Double),
                                     status: DeliveryStatus, outcome: String) -> String {
        var line = "\(queueID): to=<\(to)>"
        if let o = originalTo, o.lowercased() != to.lowercased() { line += ", orig_to=<\(o)>" }
        line += ", relay=\(relay), delay=\(formatDelay(delay)), delays="
        line += [delays.0, delays.1, delays.2, delays.3].map(formatDelay).joined(separator: "/")
        line += ", dsn=\(status.status), status=\(outcome) (\(status.reason))"
        return line
    }

    /// The Postfix word for a state: sent, deferred or bounced.
    public static func outcome(_ state: RecipientState) -> String {
        switch state {
        case .delivered: return "sent"
        case .deferred, .pending: return "deferred"
        case .rejected: return "bounced"
        }
    }
}

/// swift-log's view of a ``Maillog``.
public struct MaillogHandler: LogHandler {
    let log: Maillog
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let prefix: String
        switch event.level {
        case .trace, .debug, .info, .notice: prefix = ""
        case .warning: prefix = "warning: "
        case .error: prefix = "error: "
        case .critical: prefix = "fatal: "
        }
        var text = prefix + event.message.description
        let merged = metadata.merging(event.metadata ?? [:]) { _, b in b }
        if let id = merged["queue_id"] { text = "\(id): " + text }
        log.log(text)
    }
}

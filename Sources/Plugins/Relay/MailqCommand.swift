#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad mailq`, `mdad postqueue -p|-j|-f|-i ID`: the queue as Postfix's showq lists it, as
/// JSON lines (postqueue -j), or a flush request to the queue manager.
public enum MailqCommand {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var state: QueueStore.State
        public var size: Int
        public var arrival: Int
        public var sender: String
        /// Pending recipients with the reason of their last deferral, if any.
        public var recipients: [(address: String, reason: String?)]

        public static func == (a: Entry, b: Entry) -> Bool {
            a.id == b.id && a.state == b.state && a.size == b.size && a.sender == b.sender
                && a.recipients.map(\.address) == b.recipients.map(\.address) && a.recipients.map(\.reason) == b.recipients.map(\.reason)
        }
    }

    /// Every message in the queue, in Postfix's order of queues.
    public static func entries(_ store: QueueStore) -> [Entry] {
        var out: [Entry] = []
        for state in [QueueStore.State.incoming, .active, .deferred, .hold] {
            for id in store.list(state) {
                guard let f = try? store.read(state, id) else { continue }
                let reasons = Dictionary(store.readDeferLog(id).map { ($0.address, $0.reason) }, uniquingKeysWith: { a, _ in a })
                out.append(Entry(id: id, state: state, size: store.fileSize(state, id) ?? f.messageSize, arrival: f.arrival,
                                 sender: f.sender, recipients: f.pending.map { ($0.address, reasons[$0.address]) }))
            }
        }
        return out
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }

    /// Postfix's mailq text: `%-10s%c%8ld %20.20s %s` per message, `(reason)` above the
    /// recipients it applies to, 41 spaces before each recipient, and the total at the end.
    public static func format(_ entries: [Entry]) -> String {
        guard !entries.isEmpty else { return "Mail queue is empty\n" }
        var t = pad("-Queue ID-", 10) + " " + pad("--Size--", 8, right: true) + " " + pad("----Arrival Time----", 20, right: true) + " -Sender/Recipient-------\n"
        var total = 0
        for (k, e) in entries.enumerated() {
            if k > 0 { t += "\n" }
            total += e.size
            let mark = e.state == .active ? "*" : e.state == .hold ? "!" : " "
            let when = Posix.localTime(e.arrival, format: "%a %b %e %H:%M:%S")
            t += pad(e.id, 10) + mark + pad(String(e.size), 8, right: true) + " " + pad(String(when.prefix(20)), 20) + " "
            t += (e.sender.isEmpty ? "MAILER-DAEMON" : e.sender) + "\n"
            var lastReason: String?
            for r in e.recipients {
                if let why = r.reason, why != lastReason { t += "(\(why))\n" }
                lastReason = r.reason
                t += String(repeating: " ", count: 41) + r.address + "\n"
            }
        }
        t += "\n-- \(total / 1024) Kbytes in \(entries.count) Request\(entries.count == 1 ? "" : "s").\n"
        return t
    }

    static func json(_ s: String) -> String {
        JSONText.string(s)
    }

    /// postqueue -j: one JSON object per message, with Postfix's field names.
    public static func formatJSON(_ entries: [Entry]) -> String {
        entries.map { e in
            let rs = e.recipients.map { r in
                "{\"address\": \(json(r.address))" + (r.reason.map { ", \"delay_reason\": \(json($0))" } ?? "") + "}"
            }.joined(separator: ", ")
            return "{\"queue_name\": \(json(e.state.rawValue)), \"queue_id\": \(json(e.id)), \"arrival_time\": \(e.arrival), "
                + "\"message_size\": \(e.size), \"forced_expire\": false, \"sender\": \(json(e.sender)), \"recipients\": [\(rs)]}\n"
        }.joined()
    }

    /// Asks the queue manager to try every deferred message now (postqueue -f), or one (-i ID).
    public static func flush(_ store: QueueStore, id: String? = nil) throws {
        let now = Int(time(nil))
        for d in store.list(.deferred) where id == nil || d == id {
            var times = [timespec(tv_sec: time_t(now), tv_nsec: 0), timespec(tv_sec: time_t(now), tv_nsec: 0)]
            _ = utimensat(AT_FDCWD, store.path(.deferred, d), &times, 0)
        }
        let fd = open("\(store.directory)/flush", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemError("open", path: "\(store.directory)/flush") }
        close(fd)
    }

    static func say(_ fd: Int32, _ text: String) { try? Posix.writeAll(fd, Array(text.utf8)) }

    /// `postqueue` (and `mailq` = `postqueue -p`): returns the exit code.
    public static func run(_ args: [String], config: Configuration? = nil, registry: StageRegistry = .builtin) -> Int32 {
        var dir: String?, mode = "-p", id: String?
        var i = 0
        while i < args.count {
            switch args[i] {
            case "-c": i += 1; dir = i < args.count ? args[i] : nil
            case "-p", "-j", "-f": mode = args[i]
            case "-i", "-s":
                mode = "-i"; i += 1
                id = i < args.count ? args[i] : nil
            default:
                say(2, "postqueue: fatal: usage: postqueue -f | -i queue_id | -j | -p [-c config_dir]\n")
                return 64
            }
            i += 1
        }
        let store: QueueStore
        do {
            let c: Configuration
            if let config { c = config } else {
                let d = Configuration.directory(commandLine: dir)
                c = try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable)
            }
            store = try QueueStore(configuration: c)
        } catch {
            say(2, "postqueue: fatal: \(error)\n")
            return 78
        }
        // The queue is root's (0700): an ordinary user gets an error, not an empty listing.
        if mode != "-f" && mode != "-i" && Posix.isDirectory("\(store.directory)/incoming") && access("\(store.directory)/incoming", R_OK) != 0 {
            say(2, "postqueue: fatal: cannot read the queue in \(store.directory): permission denied (the queue belongs to root)\n")
            return 69
        }
        switch mode {
        case "-j": say(1, formatJSON(entries(store)))
        case "-f", "-i":
            do { try flush(store, id: id) } catch {
                say(2, "postqueue: fatal: \(error)\n")
                return 75
            }
        default: say(1, format(entries(store)))
        }
        return 0
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad postsuper`: Postfix's queue surgery on mdad's queue. `-d ID` deletes, `-h ID` puts on
/// hold, `-H ID` releases from hold, `-r ID` requeues (back to incoming, tried at once); `ALL`
/// means every message (of the queue named after it, if any); `-` reads IDs from standard input.
public enum PostsuperCommand {
    public enum Operation: String, Sendable { case delete = "-d", hold = "-h", release = "-H", requeue = "-r" }

    /// Carries out one operation on some IDs (or ALL) in some queues; returns how many messages it touched.
    public static func apply(_ op: Operation, ids: [String], queues: [QueueStore.State]?, store: QueueStore) -> Int {
        let all = ids.contains("ALL")
        let wanted = Set(ids)
        let from: [QueueStore.State]
        switch op {
        case .delete: from = queues ?? [.incoming, .active, .deferred, .hold, .maildrop, .corrupt]
        case .hold: from = queues ?? [.incoming, .active, .deferred]
        case .release: from = [.hold]
        case .requeue: from = queues ?? [.incoming, .active, .deferred, .hold]
        }
        var n = 0
        for state in from {
            for id in store.list(state) where all || wanted.contains(id) {
                switch op {
                case .delete:
                    if unlink(store.path(state, id)) == 0 { n += 1 }
                    unlink(store.deferLogPath(id))
                case .hold:
                    if (try? store.move(id, from: state, to: .hold)) == true { n += 1 }
                case .release:
                    if (try? store.deferUntil(id, from: .hold, next: Int(time(nil)))) != nil { n += 1 }
                case .requeue:
                    if state == .incoming { n += 1 } else if (try? store.move(id, from: state, to: .incoming)) == true { n += 1 }
                }
            }
        }
        return n
    }

    static func say(_ text: String) { try? Posix.writeAll(2, Array(("postsuper: " + text + "\n").utf8)) }

    public static func run(_ args: [String], registry: StageRegistry = .builtin, input: Int32 = 0) -> Int32 {
        var dir: String?
        var ops: [(Operation, String)] = []
        var queues: [QueueStore.State]?
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "-c" { i += 2; dir = i - 1 < args.count ? args[i - 1] : nil; continue }
            if let op = Operation(rawValue: a) {
                guard i + 1 < args.count else { say("fatal: \(a) requires a queue ID, ALL or -"); return 64 }
                ops.append((op, args[i + 1]))
                i += 2
                continue
            }
            if !a.hasPrefix("-"), let q = QueueStore.State(rawValue: a) { queues = (queues ?? []) + [q]; i += 1; continue }
            say("fatal: usage: postsuper [-c config_dir] [-d|-h|-H|-r queue_id|ALL|-] [queue...]")
            return 64
        }
        let store: QueueStore
        do {
            let d = Configuration.directory(commandLine: dir)
            store = try QueueStore(configuration: try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable))
        } catch {
            say("fatal: \(error)")
            return 78
        }
        for (op, arg) in ops {
            var ids = [arg]
            if arg == "-" {
                let text = String(decoding: (try? Posix.readFile("/dev/stdin", limit: 16 << 20)) ?? [], as: UTF8.self)
                ids = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).map(String.init)
            }
            let n = apply(op, ids: ids, queues: queues, store: store)
            let verb = ["-d": "Deleted", "-h": "Placed on hold", "-H": "Released from hold", "-r": "Requeued"][op.rawValue]!
            say("\(verb): \(n) message\(n == 1 ? "" : "s")")
        }
        return 0
    }
}

import CoreMetrics
import Plugins

/// What the queue manager counts, through swift-metrics (exported for Prometheus at
/// `metrics_listen` by `mdad serve`; no-ops when no metrics backend is bootstrapped).
///
///     mdad_queue_messages{queue="deferred"} 3        the files in each queue directory
///     mdad_queue_attempts_total{outcome="sent"} 12   each message the queue manager finished
///     mdad_queue_recipients_total{outcome="sent"} 30 each recipient's attempt (a log line each,
///                                                    as pflogsumm counts them)
enum QueueMetrics {
    /// The queues whose sizes are exported (maildrop is picked up at once; `defer` holds logs).
    static let queues: [QueueStore.State] = [.incoming, .active, .deferred, .hold, .corrupt]

    /// Records the number of messages in each queue now (a directory listing each).
    static func recordSizes(_ store: QueueStore) {
        for q in queues {
            Gauge(label: "mdad_queue_messages", dimensions: [("queue", q.rawValue)]).record(store.list(q).count)
        }
    }

    /// One message attempt finished: `sent` (every recipient done), `deferred` (some stay
    /// queued), or `bounced` (some failed for good or expired, none stay queued).
    static func finished(_ outcome: String) {
        Counter(label: "mdad_queue_attempts_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// One recipient's attempt finished: `sent`, `deferred` or `bounced`, as its log line says.
    static func recipient(_ outcome: String) {
        Counter(label: "mdad_queue_recipients_total", dimensions: [("outcome", outcome)]).increment()
    }
}

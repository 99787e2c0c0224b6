import CoreMetrics
import Pipeline
import Plugins

/// What `mdad serve` counts, through swift-metrics (exported for Prometheus at
/// `metrics_listen`, see ``MetricsEndpoint``). With no metrics backend bootstrapped these are
/// no-ops.
enum ServerMetrics {
    /// One final recipient's outcome: `status` is Postfix's word (sent, deferred, bounced),
    /// `backend` what carried it out (maildir, mbox, forward, discard, none).
    static func delivery(status: String, backend: String) {
        Counter(label: "mdad_deliveries_total", dimensions: [("status", status), ("backend", backend)]).increment()
    }

    /// How long a stage of the chain took.
    static func stage(_ name: String, seconds: Double) {
        Timer(label: "mdad_stage_duration_seconds", dimensions: [("stage", name)])
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    static let openConnections = Meter(label: "mdad_lmtp_connections")
    static let connectionsTotal = Counter(label: "mdad_lmtp_connections_total")
    static let refusedConnections = Counter(label: "mdad_lmtp_connections_refused_total")

    /// The backend a final recipient's delivery used, for the `backend` dimension.
    static func backend(_ r: Recipient, target: MailboxTarget?) -> String {
        if let t = target { return "\(t.format)" }
        for a in r.effectiveActions {
            switch a {
            case .redirect, .send: return "forward"
            case .discard: return "discard"
            case .pipe: return "pipe"
            case .file(_, let format): return "\(format)"
            case .store: continue
            }
        }
        return "none"
    }
}

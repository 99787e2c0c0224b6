#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Junk-folder feedback inside `mdad serve` (`spam_feedback = yes`): the Maildirs the daemon
/// delivers to are watched as `mdad spam learn --watch` watches the ones it is given — what a
/// user moved into the Junk folder is learned as spam, what they moved out of it as ham, once
/// each.
///
/// The spam stage configures it (with its classifier, at every start and reload); the LMTP
/// server tells it each Maildir it accepts a recipient for. Only then does its one thread
/// start, so `mdad deliver` and `mdad spam check`, which build the stage too, never run it.
public final class SpamFeedbackWatcher: @unchecked Sendable {
    public static let shared = SpamFeedbackWatcher()

    /// At most this many Maildirs are remembered (the first ones seen; a log line says so).
    public static let maximumMaildirs = 100_000

    struct State {
        var feedback: BayesFeedback?
        var maildirs: [String] = []
        var known: Set<String> = []
        var started = false
        var warnedFull = false
        var log: (@Sendable (String) -> Void)?
    }
    private let state = Locked(State())

    /// Sets (or, with nil, clears) what the passes learn with; `interval` is the pause between passes.
    public func configure(_ feedback: BayesFeedback?) {
        state.withLock { $0.feedback = feedback }
    }

    /// A Maildir the daemon delivers to; starts the watcher thread when feedback is configured.
    public func note(maildir: String, log: @escaping @Sendable (String) -> Void) {
        let start: Bool = state.withLock { s in
            guard s.feedback != nil else { return false }
            s.log = log
            if !s.known.contains(maildir) {
                if s.maildirs.count < Self.maximumMaildirs {
                    s.known.insert(maildir)
                    s.maildirs.append(maildir)
                } else if !s.warnedFull {
                    s.warnedFull = true
                    log("warning: spam_feedback: watching the first \(Self.maximumMaildirs) Maildirs only")
                }
            }
            if s.started { return false }
            s.started = true
            return true
        }
        if start {
            do {
                try Posix.startThread(name: "spam-feedback") { [self] in run() }
            } catch {
                state.withLock { $0.started = false }
                log("warning: spam_feedback: \(error)")
            }
        }
    }

    /// The passes, for ever: each Maildir once per interval, within the per-pass limit.
    private func run() {
        while true {
            let (feedback, maildirs, log) = state.withLock { ($0.feedback, $0.maildirs, $0.log) }
            guard let feedback else {
                usleep(1_000_000)
                continue
            }
            for maildir in maildirs {
                do {
                    let r = try feedback.pass(maildir)
                    if r.spam + r.ham > 0 { log?("spam_feedback: \(maildir): learned \(r.spam) as spam, \(r.ham) as ham") }
                } catch {
                    log?("warning: spam_feedback: \(maildir): \(error)")
                }
            }
            usleep(UInt32(max(0.1, min(feedback.interval, 3600)) * 1_000_000))
        }
    }
}

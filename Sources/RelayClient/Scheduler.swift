#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Plugins

/// The queue manager's books: messages in `active`, the jobs waiting per destination, the
/// workers per destination, and what to do with a message once all its jobs are done.
actor Scheduler {
    struct Destination: Sendable, Hashable {
        var key: String
        var host: String
        var port: Int
        /// Look up the MX hosts of `host` (relayhost without brackets, or a recipient domain).
        var mx: Bool
    }

    struct Job: Sendable {
        var id: String
        var destination: Destination
        /// Indexes into the queue file's recipients.
        var recipients: [Int]
        var envelope: SMTPClientSession.Envelope
        var offset: Int
        var size: Int
    }

    struct Result {
        var outcome: SMTPOutcome
        var relay: String
        var peer: String
    }

    struct InFlight {
        var file: QueueFile
        var outstanding: Int
        var results: [Int: Result] = [:]
        var started: Double
    }

    let store: QueueStore
    private(set) var relay: RelayConfiguration
    let log: Maillog
    var messages: [String: InFlight] = [:]
    var waiting: [String: [Job]] = [:]
    var workers: [String: Int] = [:]
    /// Destinations found down, until when (half the minimal backoff, at most a minute), and why.
    var suspended: [String: (until: Int, outcome: SMTPOutcome, peer: String)] = [:]
    var stopped = false

    /// A reloaded configuration (SIGHUP): limits, backoff and lifetimes from now on.
    func update(_ relay: RelayConfiguration) { self.relay = relay }

    init(store: QueueStore, relay: RelayConfiguration, log: Maillog) {
        self.store = store
        self.relay = relay
        self.log = log
    }

    func stop() { stopped = true }

    /// `postqueue -f`: every destination gets another chance at once.
    func clearSuspensions() { suspended = [:] }

    func destination(for address: String) -> Destination {
        if let r = relay.relayhost { return Destination(key: r.key, host: r.host, port: r.port, mx: r.mxLookup) }
        let domain = address.lastIndex(of: "@").map { String(address[address.index(after: $0)...]).lowercased() } ?? relay.hostName
        return Destination(key: domain, host: domain, port: 25, mx: true)
    }

    /// Moves a message to active and queues its jobs; returns the destinations that need a new worker.
    func admit(_ id: String, from state: QueueStore.State, now: Int) -> [Destination] {
        guard !stopped, messages[id] == nil else { return [] }
        guard (try? store.move(id, from: state, to: .active)) == true else { return [] }
        let file: QueueFile
        do { file = try store.read(.active, id) } catch {
            log.log("warning: \(id): corrupt queue file (\(error)); moved to corrupt")
            _ = try? store.move(id, from: .active, to: .corrupt)
            return []
        }
        let pending = file.recipients.indices.filter { !file.recipients[$0].done }
        guard !pending.isEmpty else {
            store.remove(id, from: .active)
            return []
        }
        if state == .incoming {
            log.log(Maillog.messageLine(queueID: id, sender: file.sender, size: file.messageSize, recipients: file.recipients.count))
        }
        let eightBit = Self.hasEightBit(store.path(.active, id), offset: file.messageOffset, size: file.messageSize)
        var groups: [Destination: [Int]] = [:]
        var order: [Destination] = []
        for i in pending {
            let d = destination(for: file.recipients[i].address)
            if groups[d] == nil { order.append(d) }
            groups[d, default: []].append(i)
        }
        messages[id] = InFlight(file: file, outstanding: order.count, started: Self.clock())
        var starts: [Destination] = []
        for d in order {
            let idx = groups[d]!
            let env = SMTPClientSession.Envelope(
                sender: file.sender,
                recipients: idx.map { .init(address: file.recipients[$0].address, notify: file.recipients[$0].notify,
                                            originalRecipient: file.recipients[$0].originalRecipient) },
                size: file.messageSize, eightBit: eightBit, envid: file.envid, ret: file.ret)
            let job = Job(id: id, destination: d, recipients: idx, envelope: env, offset: file.messageOffset, size: file.messageSize)
            if let s = suspended[d.key], s.until > now {
                record(job, .failed(Self.suspension(s.outcome, peer: s.peer)), relay: "none", peer: s.peer)
                continue
            }
            waiting[d.key, default: []].append(job)
            if workers[d.key, default: 0] < relay.concurrency && workers[d.key, default: 0] < waiting[d.key]!.count {
                workers[d.key, default: 0] += 1
                starts.append(d)
            }
        }
        return starts
    }

    /// The next job for a worker of `key`, waiting up to `idle` seconds for one; nil ends the worker.
    func next(for key: String, idle: Int) async -> Job? {
        let deadline = Self.clock() + Double(idle)
        while true {
            // Stopping: what is still waiting stays in active, and goes back to incoming at the
            // next start (as after a crash), so SIGTERM does not wait for a whole queue.
            if stopped { break }
            if var q = waiting[key], !q.isEmpty {
                let j = q.removeFirst()
                waiting[key] = q
                return j
            }
            if Self.clock() >= deadline { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        workers[key, default: 1] -= 1
        return nil
    }

    /// A destination did not answer: every job waiting for it is deferred without a try.
    func suspend(_ key: String, _ o: SMTPOutcome, peer: String) {
        let until = Int(time(nil)) + min(max(1, relay.minimalBackoff / 2), 60)
        suspended[key] = (until, o, peer)
        let jobs = waiting[key] ?? []
        waiting[key] = []
        for j in jobs { record(j, .failed(Self.suspension(o, peer: peer)), relay: "none", peer: peer) }
    }

    /// Postfix's words for mail not tried because its destination just failed.
    static func suspension(_ o: SMTPOutcome, peer: String) -> SMTPOutcome {
        var s = o
        s.detail = "delivery temporarily suspended: " + o.reason(peer: peer)
        s.reply = nil
        return s
    }

    func complete(_ job: Job, _ event: SMTPConnection.Event, relay r: String, peer: String) {
        if case .done = event { suspended[job.destination.key] = nil }
        record(job, event, relay: r, peer: peer)
    }

    func record(_ job: Job, _ event: SMTPConnection.Event, relay r: String, peer: String) {
        guard var m = messages[job.id] else { return }
        for (n, i) in job.recipients.enumerated() {
            let o: SMTPOutcome
            switch event {
            case .done(let outcomes): o = n < outcomes.count ? outcomes[n] : SMTPOutcome(status: .temporaryFailure, detail: "no result")
            case .failed(let f): o = f
            case .ready: o = SMTPOutcome(status: .temporaryFailure, detail: "no result")
            }
            m.results[i] = Result(outcome: o, relay: r, peer: peer)
            let f = m.file.recipients[i]
            if o.isSuccess || o.status.isPermanent {
                do { try store.markDone(.active, job.id, f, sync: false) } catch {
                    log.log("warning: \(job.id): cannot mark <\(f.address)> done: \(error)")
                }
                m.file.recipients[i].done = true
            }
            logRecipient(job.id, m, i)
        }
        m.outstanding -= 1
        messages[job.id] = m
        if m.outstanding == 0 { finish(job.id) }
    }

    func logRecipient(_ id: String, _ m: InFlight, _ i: Int) {
        guard let r = m.results[i] else { return }
        let f = m.file.recipients[i]
        let o = r.outcome
        let word = o.isSuccess ? "sent" : o.status.isPermanent ? "bounced" : "deferred"
        let text = o.isSuccess ? (o.reply.map { "\($0)" } ?? "sent") : o.reason(peer: r.peer)
        QueueMetrics.recipient(word)
        let now = Self.clock()
        log.log(Maillog.recipientLine(queueID: id, to: f.address, originalTo: nil, relay: r.relay,
                                      delay: now - Double(m.file.arrival), delays: (m.started - Double(m.file.arrival), 0, 0, now - m.started),
                                      status: DeliveryStatus(o.status, text), outcome: word))
    }

    /// Every job of a message is done: remove it, or defer it, and bounce what failed.
    func finish(_ id: String) {
        guard let m = messages.removeValue(forKey: id) else { return }
        let now = Int(time(nil))
        var failures: [BounceMessage.Failure] = []
        var deferred: [QueueStore.DeferEntry] = []
        for (i, r) in m.file.recipients.enumerated() {
            guard let res = m.results[i] else { continue }
            let o = res.outcome
            if o.isSuccess { continue }
            if o.status.isPermanent {
                if BounceMessage.wanted(sender: m.file.sender, notify: r.notify) { failures.append(failure(r, res)) }
            } else if !r.done {
                deferred.append(.init(address: r.address, status: o.status, reason: o.reason(peer: res.peer)))
            }
        }
        let lifetime = m.file.sender.isEmpty ? relay.bounceLifetime : relay.maximalLifetime
        if !deferred.isEmpty && now - m.file.arrival >= lifetime {
            for (i, r) in m.file.recipients.enumerated() where !r.done {
                guard let res = m.results[i] else { continue }
                log.log("\(id): to=<\(r.address)>, relay=none, delay=\(now - m.file.arrival), dsn=\(res.outcome.status), status=expired, returned to sender")
                if BounceMessage.wanted(sender: m.file.sender, notify: r.notify) { failures.append(failure(r, res)) }
            }
            deferred = []
        }
        if !failures.isEmpty {
            let header = BounceMessage.readHeader(path: store.path(.active, id), offset: m.file.messageOffset)
            let b = BounceMessage(queueID: id, hostName: relay.hostName, sender: m.file.sender, arrival: m.file.arrival,
                                  envid: m.file.envid, failures: failures, originalHeader: header).build(now: now)
            do {
                let bid = try QueueTransport(store: store).enqueue(
                    QueueFile(arrival: now, sender: "", recipients: [.init(address: m.file.sender)], messageSize: 0)) { try $0.write(b.data) }
                log.log("\(id): sender non-delivery notification: \(bid)")
            } catch {
                log.log("warning: \(id): cannot queue the non-delivery notification: \(error)")
            }
        } else if m.file.sender.isEmpty, m.file.recipients.contains(where: { !$0.done }) == false,
                  m.results.values.contains(where: { $0.outcome.status.isPermanent }) {
            log.log("\(id): undeliverable bounce discarded (never a bounce to <>)")
        }
        var warned = store.delayWarned(id)
        if !deferred.isEmpty && !warned && relay.delayWarning > 0 && now - m.file.arrival >= relay.delayWarning {
            warned = true
            let late = m.file.recipients.enumerated().filter { i, r in
                !r.done && m.results[i] != nil && BounceMessage.wanted(sender: m.file.sender, notify: r.notify, delay: true)
            }.map { i, r in failure(r, m.results[i]!) }
            if !late.isEmpty {
                let header = BounceMessage.readHeader(path: store.path(.active, id), offset: m.file.messageOffset)
                let notice = BounceMessage(queueID: id, hostName: relay.hostName, sender: m.file.sender, arrival: m.file.arrival,
                                           envid: m.file.envid, failures: late, originalHeader: header, delayed: true).build(now: now)
                do {
                    let nid = try QueueTransport(store: store).enqueue(
                        QueueFile(arrival: now, sender: "", recipients: [.init(address: m.file.sender)], messageSize: 0)) { try $0.write(notice.data) }
                    log.log("\(id): sender delivery status notification: \(nid)")
                } catch {
                    log.log("warning: \(id): cannot queue the delay notice: \(error)")
                }
            }
        }
        QueueMetrics.finished(!deferred.isEmpty ? "deferred" : failures.isEmpty && !m.results.values.contains { $0.outcome.status.isPermanent } ? "sent" : "bounced")
        if deferred.isEmpty {
            store.remove(id, from: .active)
            log.log("\(id): removed")
        } else {
            do {
                // The done marks of the recipients that went out must outlive a power failure
                // now that the message stays queued.
                if m.file.recipients.contains(where: \.done) || m.results.values.contains(where: { $0.outcome.isSuccess }) {
                    try store.sync(.active, id)
                }
                try store.writeDeferLog(id, deferred, warned: warned)
                try store.deferUntil(id, from: .active, next: relay.nextAttempt(now: now, arrival: m.file.arrival))
            } catch {
                log.log("warning: \(id): cannot defer: \(error)")
            }
        }
    }

    func failure(_ r: QueueFile.Recipient, _ res: Result) -> BounceMessage.Failure {
        let o = res.outcome
        let diagnostic = o.reply.map { "smtp; \($0)" } ?? "X-Postfix; \(o.reason(peer: res.peer))"
        return .init(recipient: r.address, originalRecipient: r.originalRecipient, status: o.status,
                     diagnostic: diagnostic, remoteMTA: o.reply != nil ? res.peer : nil)
    }

    static func clock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func hasEightBit(_ path: String, offset: Int, size: Int) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var pos = offset, left = size
        while left > 0 {
            let n = chunk.withUnsafeMutableBytes { (try? Posix.pread(fd, into: $0, offset: pos)) ?? 0 }
            if n <= 0 { break }
            if chunk[0..<min(n, left)].contains(where: { $0 >= 0x80 }) { return true }
            pos += n
            left -= n
        }
        return false
    }
}

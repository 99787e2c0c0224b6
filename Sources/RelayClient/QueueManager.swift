#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Pipeline
import Plugins
import ServiceLifecycle

/// The queue manager of `mdad serve` (Postfix's qmgr and smtp in one): picks up new mail from
/// incoming and maildrop, deferred mail when due, and sends it to its destination with at most
/// `smtp_destination_concurrency_limit` connections per destination, each reused for the next
/// message. A recipient the server accepted is marked done in the queue file at once; what
/// stays pending is deferred with backoff, and bounced (RFC 3464) when too old.
///
/// The window in which a message may go out twice: between the server's reply to the end of
/// DATA and the write of the recipient's done mark (a kill -9 there sends it again on
/// restart). The mark is written at once but fsynced only when the message stays queued (as
/// Postfix, which does not fsync its marks): after a power failure, more may go out twice.
public final class QueueManager: Service, Sendable {
    public let store: QueueStore
    let log: Maillog
    let scheduler: Scheduler
    let woken = NIOLockedValueBox(false)
    let stopping = NIOLockedValueBox(false)
    /// Where main.cf was read from, for SIGHUP.
    let configDirectory: String?
    let registry: StageRegistry

    /// What SIGHUP replaces: the relay settings, their TLS context and the DNS resolver.
    struct Settings: Sendable {
        let relay: RelayConfiguration
        let tls: NIOSSLContext?
        let resolver: DNSResolver

        init(_ config: Configuration) throws {
            relay = try RelayConfiguration(config)
            tls = try SMTPEndpoint.tlsContext(level: relay.tlsLevel, caFile: relay.caFile, caPath: relay.caPath)
            do { resolver = try DNSResolver.configured(relay.dnsResolver) } catch { throw config.error("dns_resolver", error.description) }
        }
    }
    let settings: NIOLockedValueBox<Settings>
    public var relay: RelayConfiguration { settings.withLockedValue { $0.relay } }
    var tls: NIOSSLContext? { settings.withLockedValue { $0.tls } }
    var resolver: DNSResolver { settings.withLockedValue { $0.resolver } }

    public init(configuration config: Configuration, log: Maillog, configDirectory: String? = nil,
                registry: StageRegistry = .builtin) throws {
        store = try QueueStore(configuration: config)
        let s = try Settings(config)
        settings = NIOLockedValueBox(s)
        self.log = log
        self.configDirectory = configDirectory
        self.registry = registry
        scheduler = Scheduler(store: store, relay: s.relay, log: log)
        for w in s.relay.warnings { log.log(w) }
    }

    /// SIGHUP (`mdad serve` has one handler, the LMTP service's, which calls this after its
    /// own reload): main.cf is read again and the relay settings (relayhost, TLS, SASL maps,
    /// timeouts, backoff and lifetimes, concurrency) apply to the next connection and the next
    /// scan; a configuration with errors is logged and the old one kept. The queue directory
    /// stays the one the daemon started with.
    public func reload() {
        do {
            let d = Configuration.directory(commandLine: configDirectory)
            let config = try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable)
            try config.validate()
            let fresh = try Settings(config)
            if (try? config.string("queue_directory")) != store.directory {
                log.log("warning: reload: queue_directory changed; the queue manager keeps \(store.directory) until restarted")
            }
            settings.withLockedValue { $0 = fresh }
            let scheduler = self.scheduler
            Task { await scheduler.update(fresh.relay) }
            for w in fresh.relay.warnings { log.log(w) }
            log.log("reload: relay configuration reloaded")
        } catch {
            log.log("warning: reload failed, the queue manager keeps the previous configuration: \(error)")
        }
        log.flush()
        wake()
    }

    /// Wakes the manager at once (a message was just queued by this process).
    public func wake() { woken.withLockedValue { $0 = true } }

    public func run() async throws {
        try store.create()
        let recovered = store.recover()
        if recovered > 0 { log.log("recovered \(recovered) message(s) that were being delivered when mdad stopped") }
        log.flush()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var lastDeferredScan = 0
                while !stopping.withLockedValue({ $0 }) && !Task.isCancelled {
                    let now = Int(time(nil))
                    pickup()
                    var ids = store.list(.incoming).map { ($0, QueueStore.State.incoming) }
                    let flush = Posix.exists("\(store.directory)/flush")
                    if flush || now - lastDeferredScan >= relay.queueRunDelay || now - lastDeferredScan >= relay.minimalBackoff {
                        if flush {
                            unlink("\(store.directory)/flush")
                            await scheduler.clearSuspensions()
                        }
                        lastDeferredScan = now
                        for id in store.list(.deferred) {
                            if flush || (store.modificationTime(.deferred, id) ?? 0) <= now { ids.append((id, .deferred)) }
                        }
                    }
                    for (id, state) in ids {
                        let starts = await scheduler.admit(id, from: state, now: now)
                        for destination in starts { group.addTask { await self.worker(destination) } }
                    }
                    log.flush()
                    QueueMetrics.recordSizes(store)
                    // Sleep until woken, until a file arrives in incoming or maildrop (their
                    // directories' mtime changes: mdad sendmail and LMTP forwards need no other
                    // signal), or until the scan interval has passed.
                    let seen = arrivals()
                    for tick in 0..<(relay.scanInterval * 20) {
                        // The queue sizes follow deliveries that finish meanwhile, once a second.
                        if tick % 20 == 19 { QueueMetrics.recordSizes(store) }
                        if woken.withLockedValue({ let w = $0; $0 = false; return w }) || stopping.withLockedValue({ $0 }) { break }
                        if arrivals() != seen { break }
                        try? await Task.sleep(nanoseconds: 50_000_000)
                    }
                }
                await scheduler.stop()
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stopping.withLockedValue { $0 = true }
        }
        log.flush()
    }

    /// The modification times of incoming and maildrop, to notice new files without listing them.
    func arrivals() -> [Int] {
        [QueueStore.State.incoming, .maildrop].flatMap { state -> [Int] in
            var st = stat()
            guard stat("\(store.directory)/\(state.rawValue)", &st) == 0 else { return [0, 0] }
            return [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
        }
    }

    /// maildrop → incoming, for mail from `mdad sendmail` run by ordinary users.
    func pickup() {
        for id in store.list(.maildrop) {
            do {
                _ = try store.read(.maildrop, id)
                try store.move(id, from: .maildrop, to: .incoming)
            } catch {
                log.log("warning: \(id): maildrop file is not a queue file (\(error)); moved to corrupt")
                _ = try? store.move(id, from: .maildrop, to: .corrupt)
            }
        }
    }

    /// MX and A lookups on a thread of their own (the resolver blocks up to its timeout).
    func lookUp(_ domain: String) async -> Result<[(name: String, addresses: [String])], DNSResolver.Failure> {
        let r = resolver
        return await withCheckedContinuation { k in
            DispatchQueue.global().async {
                do throws(DNSResolver.Failure) { k.resume(returning: .success(try r.mailHosts(domain))) } catch { k.resume(returning: .failure(error)) }
            }
        }
    }

    /// One connection's worth of work for a destination: messages one after another on the
    /// same connection until none is left for `smtp_connection_cache_time_limit`.
    func worker(_ destination: Scheduler.Destination) async {
        var connection: SMTPConnection?
        var sent = 0
        while let job = await scheduler.next(for: destination.key, idle: relay.connectionCacheTime) {
            if connection == nil || connection?.isUsable != true || (relay.reuseLimit > 0 && sent >= relay.reuseLimit) {
                if let c = connection { await c.quit() }
                connection = nil
                sent = 0
                let settings: SMTPClientSession.Settings
                do { settings = try relay.sessionSettings(host: destination.host, port: destination.port) } catch {
                    await scheduler.complete(job, .failed(SMTPOutcome(status: .temporaryFailure, detail: "\(error)")), relay: "none", peer: "none")
                    continue
                }
                // The hosts to try: the MX hosts by preference (each address in turn), or the host as named.
                var targets: [(name: String, address: String?)] = [(destination.host, nil)]
                if destination.mx {
                    switch await lookUp(destination.host) {
                    case .success(let hosts): targets = hosts.flatMap { h in h.addresses.map { (h.name, Optional($0)) } }
                    case .failure(let f):
                        // No such domain bounces when it is the recipient's; a relayhost that
                        // does not resolve is a configuration error, which defers.
                        let status = f.notFound && relay.relayhost == nil ? EnhancedStatus(5, 4, 4) : EnhancedStatus(4, 4, 3)
                        let o = SMTPOutcome(status: status, detail: f.description)
                        await scheduler.complete(job, .failed(o), relay: "none", peer: destination.host)
                        await scheduler.suspend(destination.key, o, peer: destination.host)
                        continue
                    }
                }
                var failure: SMTPConnection.OpenFailure?
                for t in targets.prefix(20) {
                    let e = SMTPEndpoint(host: t.name, address: t.address, port: destination.port, settings: settings, tls: tls,
                                         connectTimeout: Int64(relay.connectTimeout), heloTimeout: Int64(relay.heloTimeout),
                                         commandTimeout: Int64(relay.commandTimeout), dataDoneTimeout: Int64(relay.dataDoneTimeout))
                    switch await SMTPConnection.open(e) {
                    case .success(let c): connection = c
                    case .failure(let f): failure = f
                    }
                    if connection != nil { break }
                }
                if connection == nil, let f = failure {
                    // The destination is down: this job and every other waiting for it are deferred
                    // now, rather than each trying again (Postfix's dead destination).
                    await scheduler.complete(job, .failed(f.outcome), relay: f.relay, peer: f.peer)
                    await scheduler.suspend(destination.key, f.outcome, peer: f.peer)
                    continue
                }
            }
            guard let c = connection else { continue }
            let event = await c.send(job.envelope, path: store.path(.active, job.id), offset: job.offset, size: job.size)
            sent += 1
            await scheduler.complete(job, event, relay: c.relay, peer: c.peer)
            if case .failed = event { connection = nil }
        }
        if let c = connection { await c.quit() }
    }
}

extension QueueManager {
    /// The queue manager main.cf asks for, or nil when mdad is not the null client.
    public static func configured(configDirectory: String?, registry: StageRegistry = .builtin) throws -> QueueManager? {
        let d = Configuration.directory(commandLine: configDirectory)
        let config = try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable)
        try config.validate()
        guard try QueueTransport.isConfigured(config) else { return nil }
        let log = Maillog(program: "\(try config.string("syslog_name"))/qmgr", hostName: try config.string("myhostname"),
                          destination: try LocalDeliveryAgent.logDestination(config))
        return try QueueManager(configuration: config, log: log, configDirectory: configDirectory, registry: registry)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Pipeline
import Plugins
import ServiceLifecycle

/// `mdad serve`: the LMTP listeners of `lmtp_listen`, run until SIGTERM or SIGINT.
///
/// Shutdown stops accepting, lets transactions in flight finish (up to
/// `lmtp_shutdown_timeout`), answers 421 4.3.2 to new commands and returns. SIGHUP reloads
/// main.cf and its tables; a broken configuration keeps the old one and says why in the log.
public final class LMTPService: Service, Sendable {
    let configDirectory: String?
    let registry: StageRegistry
    let engine: NIOLockedValueBox<LMTPDelivery>
    /// Other services' reloads (the queue manager's), run after this one's on SIGHUP: one
    /// signal handler for the process, so no service's handler replaces another's.
    let reloadHooks = NIOLockedValueBox<[@Sendable () -> Void]>([])

    public func onReload(_ hook: @escaping @Sendable () -> Void) { reloadHooks.withLockedValue { $0.append(hook) } }
    let connections = ConnectionRegistry()
    /// Connections admitted and not yet closed (counted at accept, before any handler runs).
    let admitted = NIOLockedValueBox(0)
    let group: MultiThreadedEventLoopGroup
    /// One group commit for every delivery of this process.
    let groupSync = GroupSync()
    let pool: NIOThreadPool
    /// Listening addresses once bound (for tests that bind port 0).
    public let boundAddresses = NIOLockedValueBox<[SocketAddress]>([])

    public init(configDirectory: String?, registry: StageRegistry = .builtin,
                group: MultiThreadedEventLoopGroup = .singleton) throws {
        self.configDirectory = configDirectory
        self.registry = registry
        self.group = group
        // main.cf is read once: the worker pool's size and the first engine both come from it.
        let config = try LMTPService.loadConfiguration(configDirectory, registry)
        self.pool = NIOThreadPool(numberOfThreads: max(1, (try? config.integer("lmtp_worker_threads")) ?? 32))
        self.pool.start()
        self.engine = NIOLockedValueBox(try LMTPService.makeEngine(config, configDirectory, registry, groupSync, pool))
    }

    static func loadConfiguration(_ dir: String?, _ registry: StageRegistry) throws -> Configuration {
        let d = Configuration.directory(commandLine: dir)
        let config = try Configuration.load(directory: d.path, explicit: d.explicit, table: registry.parameterTable)
        try config.validate()
        return config
    }

    static func makeEngine(_ config: Configuration, _ dir: String?, _ registry: StageRegistry, _ groupSync: GroupSync,
                           _ pool: NIOThreadPool) throws -> LMTPDelivery {
        let log = Maillog(program: "\(try config.string("syslog_name"))/lmtp", hostName: try config.string("myhostname"),
                          destination: try LocalDeliveryAgent.logDestination(config))
        for e in config.unusedEntries {
            log.log("warning: \(e.file), line \(e.line): unused parameter: \(e.name)=\(e.value)")
        }
        if let tables = try? TableRegistry.configured(config) {
            for w in tables.warnings(config) { log.log("warning: \(w)") }
        }
        log.flush()
        return try LMTPDelivery(configuration: config, registry: registry, log: log, group: groupSync, pool: pool,
                                configDirectory: dir)
    }

    /// Re-reads main.cf and the tables; keeps the old engine when the new configuration fails.
    public func reload() {
        do {
            let fresh = try LMTPService.makeEngine(LMTPService.loadConfiguration(configDirectory, registry),
                                                   configDirectory, registry, groupSync, pool)
            engine.withLockedValue { $0 = fresh }
            fresh.log.log("reload: configuration reloaded")
            fresh.log.flush()
        } catch {
            let old = engine.withLockedValue { $0 }
            old.log.log("warning: reload failed, keeping the previous configuration: \(error)")
            old.log.flush()
        }
    }

    public func run() async throws {
        let current = engine.withLockedValue { $0 }
        let config = current.configuration
        let listeners = try config.list("lmtp_listen")
        let networks = try NetworkList(try config.list("mynetworks"))
        let settings = LMTPSession.Settings(
            hostName: current.hostName, messageSizeLimit: try config.size("message_size_limit"),
            recipientLimit: try config.integer("lmtp_recipient_limit"), hardErrorLimit: try config.integer("lmtp_hard_error_limit"))
        let timeout = try config.integer("lmtp_timeout")
        let maxConnections = try config.integer("lmtp_max_connections")
        let shutdownTimeout = try config.integer("lmtp_shutdown_timeout")
        let engineBox = engine
        let connections = self.connections
        let admitted = self.admitted

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: true)
            .childChannelInitializer { channel in
                let remote = channel.remoteAddress
                let client = LMTPService.describe(remote)
                if !networks.contains(remote) {
                    return LMTPService.refuse(channel, "554 5.7.1 \(settings.hostName) Error: access denied for \(client)\r\n")
                }
                let accepted = admitted.withLockedValue { n in
                    guard n < maxConnections else { return false }
                    n += 1
                    return true
                }
                guard accepted else {
                    ServerMetrics.refusedConnections.increment()
                    return LMTPService.refuse(channel, "421 4.7.0 \(settings.hostName) Error: too many connections\r\n")
                }
                ServerMetrics.connectionsTotal.increment()
                ServerMetrics.openConnections.increment(by: 1)
                channel.closeFuture.whenComplete { _ in
                    admitted.withLockedValue { $0 -= 1 }
                    ServerMetrics.openConnections.decrement(by: 1)
                }
                let session = LMTPSession(settings: settings, client: client)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LMTPChannelHandler(
                        session: session, delivery: { engineBox.withLockedValue { $0 } }, registry: connections,
                        timeout: .seconds(Int64(timeout))))
                }
            }

        var channels: [Channel] = []
        for listener in listeners {
            let channel = try await bind(bootstrap, listener, config)
            channels.append(channel)
            if let a = channel.localAddress { boundAddresses.withLockedValue { $0.append(a) } }
        }
        // The policy service and the socketmap server answer Postfix from the same lookups.
        var lookupListeners: [String] = []
        for (parameter, kind) in [("policy_listen", LookupChannelHandler.Kind.policy), ("socketmap_listen", .socketmap)] {
            let pool = self.pool
            let lookupBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    if !networks.contains(channel.remoteAddress) { return channel.close() }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(timeout))))
                        try channel.pipeline.syncOperations.addHandler(LookupChannelHandler(
                            kind: kind, engine: { engineBox.withLockedValue { $0 } }, pool: pool))
                    }
                }
            for listener in try config.list(parameter) {
                channels.append(try await bind(lookupBootstrap, listener, config, parameter: parameter))
                lookupListeners.append("\(listener) (\(kind == .policy ? "policy" : "socketmap"))")
            }
        }
        // Prometheus metrics, when asked for.
        for listener in try config.list("metrics_listen") {
            MetricsEndpoint.bootstrap()
            do {
                channels.append(try await MetricsEndpoint.bind(listener, group: group))
            } catch let e as MetricsEndpoint.MetricsListenError {
                throw config.error("metrics_listen", e.description)
            }
            lookupListeners.append("\(listener) (metrics)")
        }
        current.log.log("daemon started -- listening on \((listeners + lookupListeners).joined(separator: ", "))")
        current.log.flush()

        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        signal(SIGHUP, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)   // log files are opened per line: rotation needs no reopen
        hup.setEventHandler { [self] in
            reload()
            for hook in reloadHooks.withLockedValue({ $0 }) { hook() }
        }
        hup.resume()

        let bound = channels
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                // Closing the listeners ends this wait.
                let futures = bound.map { $0.closeFuture }
                EventLoopFuture.andAllComplete(futures, on: group.next()).whenComplete { _ in c.resume() }
            }
        } onGracefulShutdown: {
            for ch in bound { ch.close(promise: nil) }
        }
        hup.cancel()
        // Listeners are closed: tell every session, then wait for them to finish.
        connections.shutdownAll()
        let deadline = Timestamp.now().seconds + shutdownTimeout
        while connections.count > 0 && Timestamp.now().seconds < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        let final = engine.withLockedValue { $0 }
        final.log.log("daemon stopped\(connections.count > 0 ? " with \(connections.count) connections still open" : "")")
        final.log.flush()
        for l in listeners + ((try? config.list("policy_listen")) ?? []) + ((try? config.list("socketmap_listen")) ?? [])
            where l.hasPrefix("unix:") { unlink(String(l.dropFirst(5))) }
    }

    func bind(_ bootstrap: ServerBootstrap, _ listener: String, _ config: Configuration,
              parameter: String = "lmtp_listen") async throws -> Channel {
        if listener.hasPrefix("unix:") {
            let path = String(listener.dropFirst(5))
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try? Posix.makeDirectory(String(path[..<slash]), mode: 0o755)
            }
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            let modeText = try config.string("lmtp_unix_mode")
            guard let mode = mode_t(modeText, radix: 8) else {
                throw config.error("lmtp_unix_mode", "bad lmtp_unix_mode \"\(modeText)\"; expected an octal mode like 0660")
            }
            chmod(path, mode)
            let owner = try config.string("lmtp_unix_owner")
            if !owner.isEmpty {
                let parts = owner.split(separator: ":", maxSplits: 1).map(String.init)
                guard let user = try LocalUser.lookup(name: parts[0]) else {
                    throw config.error("lmtp_unix_owner", "unknown user \"\(parts[0])\" in lmtp_unix_owner")
                }
                var gid = user.gid
                if parts.count == 2 {
                    guard let g = getgrnam(parts[1]) else {
                        throw config.error("lmtp_unix_owner", "unknown group \"\(parts[1])\" in lmtp_unix_owner")
                    }
                    gid = g.pointee.gr_gid
                }
                chown(path, user.uid, gid)
            }
            return channel
        }
        guard listener.hasPrefix("inet:"), let colon = listener.lastIndex(of: ":"), colon > listener.index(listener.startIndex, offsetBy: 4),
              let port = Int(listener[listener.index(after: colon)...]) else {
            throw config.error(parameter, "bad listener \"\(listener)\"; expected unix:/path or inet:host:port")
        }
        var host = String(listener[listener.index(listener.startIndex, offsetBy: 5)..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return try await bootstrap.bind(host: host, port: port).get()
    }

    static func describe(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let a)?: return "localhost[\(a.host)]".replacingLocalhost(a.host)
        case .v6(let a)?: return "localhost[\(a.host)]".replacingLocalhost(a.host)
        case .unixDomainSocket?: return "local"
        default: return "unknown"
        }
    }

    static func refuse(_ channel: Channel, _ reply: String) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RefuseHandler(reply: reply))
        }
    }
}

extension String {
    /// Postfix writes a client as `name[address]`; without reverse DNS the name is `unknown`,
    /// except for loopback.
    func replacingLocalhost(_ host: String) -> String {
        host == "127.0.0.1" || host == "::1" ? self : "unknown[\(host)]"
    }
}

/// Answers one reply as soon as the connection is up, then closes it (554 outside
/// mynetworks, 421 past the connection limit).
final class RefuseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: String

    init(reply: String) { self.reply = reply }

    func channelActive(context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(string: reply)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Pipeline
import Plugins

/// Where and how to connect: the next hop, the session settings, the TLS context and timeouts.
public struct SMTPEndpoint: Sendable {
    /// The server's name: for SNI, certificate checks and log lines.
    public var host: String
    /// The address to connect to, when the name was resolved already (an MX host); nil
    /// resolves `host`.
    public var address: String?
    public var port: Int
    public var settings: SMTPClientSession.Settings
    /// nil when TLS is never used (`smtp_tls_security_level = none`).
    public var tls: NIOSSLContext?
    public var connectTimeout: Int64
    public var heloTimeout: Int64
    public var commandTimeout: Int64
    public var dataDoneTimeout: Int64

    public init(host: String, address: String? = nil, port: Int, settings: SMTPClientSession.Settings, tls: NIOSSLContext?,
                connectTimeout: Int64 = 30, heloTimeout: Int64 = 300, commandTimeout: Int64 = 300, dataDoneTimeout: Int64 = 600) {
        self.host = host
        self.address = address
        self.port = port
        self.settings = settings
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.heloTimeout = heloTimeout
        self.commandTimeout = commandTimeout
        self.dataDoneTimeout = dataDoneTimeout
    }

    /// The TLS context for a level: no verification for may and encrypt (as Postfix: the
    /// channel is encrypted, the peer not authenticated), chain and host name for verify and secure.
    public static func tlsContext(level: TLSLevel, caFile: String, caPath: String) throws -> NIOSSLContext? {
        guard level != .none else { return nil }
        var c = TLSConfiguration.makeClientConfiguration()
        if level.verifiesCertificate {
            c.certificateVerification = .fullVerification
            if !caFile.isEmpty { c.trustRoots = .file(caFile) } else if !caPath.isEmpty { c.trustRoots = .file(caPath) }
        } else {
            c.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: c)
    }

    /// SNI and the name checked against the certificate; never an IP literal.
    var serverName: String? {
        host.contains(":") || host.split(separator: ".").allSatisfy({ Int($0) != nil }) ? nil : host
    }
}

/// One SMTP connection: NIO moves the bytes, ``SMTPClientSession`` decides. Used by one
/// queue-manager worker at a time, for several messages in a row (connection reuse).
public final class SMTPConnection: Sendable {
    public enum Event: Sendable {
        case ready
        case done([SMTPOutcome])
        case failed(SMTPOutcome)
    }

    let channel: Channel
    let handler: SMTPClientHandler
    /// `host[address]:port`, for log lines.
    public let relay: String
    public let peer: String

    init(channel: Channel, handler: SMTPClientHandler, relay: String, peer: String) {
        self.channel = channel
        self.handler = handler
        self.relay = relay
        self.peer = peer
    }

    public var isUsable: Bool { channel.isActive && handler.usable.withLockedValue { $0 } }

    /// Why a connection could not be opened, with the peer it was to (`host[address]`) when
    /// the TCP connection was made.
    public struct OpenFailure: Error, Sendable {
        public var outcome: SMTPOutcome
        public var relay: String
        public var peer: String
    }

    /// Connects and waits for the greeting, EHLO, STARTTLS and AUTH to be done.
    public static func open(_ e: SMTPEndpoint, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async -> Result<SMTPConnection, OpenFailure> {
        let handler = SMTPClientHandler(endpoint: e)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(e.connectTimeout))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if e.settings.implicitTLS, let tls = e.tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: e.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: e.address ?? e.host, port: e.port).get()
        } catch {
            return .failure(OpenFailure(outcome: SMTPOutcome(status: .init(4, 4, 1), detail: "connect to \(e.host)[\(e.address ?? e.host)]:\(e.port): \(Self.describe(error))"),
                                        relay: "none", peer: e.host))
        }
        // Read at channelActive: a server that answers 421 and closes at once leaves no address on the channel.
        let ip = handler.peerAddress.withLockedValue { $0 } ?? channel.remoteAddress?.ipAddress ?? e.address ?? e.host
        let conn = SMTPConnection(channel: channel, handler: handler, relay: "\(e.host)[\(ip)]:\(e.port)", peer: "\(e.host)[\(ip)]")
        switch await handler.wait(on: channel) {
        case .ready: return .success(conn)
        case .failed(let o) where e.settings.tlsLevel == .may && !e.settings.implicitTLS
                                 && (o.status == .init(4, 7, 5) || o.detail.contains("STARTTLS handshake")):
            // Opportunistic TLS: a failed handshake is not a reason to defer. Postfix's smtp(8)
            // with `may` retries the same server at once in plaintext; so does this.
            _ = try? await channel.close()
            var plain = e
            plain.settings.tlsLevel = .none
            return await open(plain, group: group)
        case .failed(let o): return .failure(OpenFailure(outcome: o, relay: conn.relay, peer: conn.peer))
        case .done: return .failure(OpenFailure(outcome: SMTPOutcome(status: .temporaryFailure, detail: "unexpected state of %s"),
                                                relay: conn.relay, peer: conn.peer))
        }
    }

    /// Sends one message: `path` is the queue file, the message at `offset`, `size` bytes.
    public func send(_ envelope: SMTPClientSession.Envelope, path: String, offset: Int, size: Int) async -> Event {
        await handler.transaction(envelope, path: path, offset: offset, size: size, on: channel)
    }

    public func quit() async {
        channel.eventLoop.execute { self.handler.quit() }
        try? await channel.closeFuture.get()
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return describe(first.error) }
            if let d = e.dnsAError ?? e.dnsAAAAError { return "Host not found (\(d))" }
            return "\(e)"
        }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        if error is ChannelError { return "Connection timed out" }
        return "\(error)"
    }
}

/// The channel handler: feeds bytes to the session and carries out its actions.
final class SMTPClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let endpoint: SMTPEndpoint
    // Everything below is touched on the channel's event loop only (usable has its own lock).
    var session: SMTPClientSession
    var context: ChannelHandlerContext?
    var waiter: EventLoopPromise<SMTPConnection.Event>?
    var early: SMTPConnection.Event?
    var timer: Scheduled<Void>?
    var body: (path: String, offset: Int, size: Int)?
    let usable = NIOLockedValueBox(true)
    let peerAddress = NIOLockedValueBox<String?>(nil)

    init(endpoint: SMTPEndpoint) {
        self.endpoint = endpoint
        session = SMTPClientSession(settings: endpoint.settings)
    }

    func wait(on channel: Channel) async -> SMTPConnection.Event {
        let p = channel.eventLoop.makePromise(of: SMTPConnection.Event.self)
        channel.eventLoop.execute {
            if let e = self.early { self.early = nil; p.succeed(e) } else { self.waiter = p }
        }
        return (try? await p.futureResult.get()) ?? .failed(SMTPOutcome(status: .init(4, 4, 2), detail: "lost connection with %s"))
    }

    func transaction(_ e: SMTPClientSession.Envelope, path: String, offset: Int, size: Int, on channel: Channel) async -> SMTPConnection.Event {
        let p = channel.eventLoop.makePromise(of: SMTPConnection.Event.self)
        channel.eventLoop.execute {
            guard self.session.isReady, let context = self.context else {
                p.succeed(.failed(SMTPOutcome(status: .init(4, 4, 2), detail: "lost connection with %s")))
                return
            }
            self.waiter = p
            self.body = (path, offset, size)
            self.perform(self.session.begin(e), context)
        }
        return (try? await p.futureResult.get()) ?? .failed(SMTPOutcome(status: .init(4, 4, 2), detail: "lost connection with %s"))
    }

    func quit() {
        guard let context else { return }
        perform(session.quit(), context)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        let ip = context.remoteAddress?.ipAddress
        peerAddress.withLockedValue { $0 = ip }
        armTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let actions = buffer.withUnsafeReadableBytes { session.receive($0) }
        perform(actions, context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        usable.withLockedValue { $0 = false }
        perform(session.connectionClosed(), context)
        timer?.cancel()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e {
            perform(session.tlsEstablished(), context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if session.isNegotiatingTLS || error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            perform(session.tlsFailed("\(error)"), context)
        } else {
            perform(session.connectionClosed(), context)
        }
        context.close(promise: nil)
    }

    func perform(_ actions: [SMTPClientSession.Action], _ context: ChannelHandlerContext) {
        for a in actions {
            switch a {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .startTLS:
                guard let tls = endpoint.tls,
                      let h = try? NIOSSLClientHandler(context: tls, serverHostname: endpoint.serverName) else {
                    perform(session.tlsFailed("cannot set up TLS"), context)
                    return
                }
                do { try context.pipeline.syncOperations.addHandler(h, position: .first) } catch {
                    perform(session.tlsFailed("\(error)"), context)
                }
            case .ready: deliver(.ready)
            case .transactionDone(let outcomes): deliver(.done(outcomes))
            case .failed(let o):
                usable.withLockedValue { $0 = false }
                deliver(.failed(o))
            case .sendBody: writeBody(context)
            case .close:
                usable.withLockedValue { $0 = false }
                context.close(promise: nil)
            }
        }
        armTimer(context)
    }

    func deliver(_ e: SMTPConnection.Event) {
        if let w = waiter { waiter = nil; w.succeed(e) } else { early = e }
    }

    func writeBody(_ context: ChannelHandlerContext) {
        guard let b = body else { return }
        var stuffer = DotStuffer()
        let fd = open(b.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            perform(session.timedOut(), context)
            return
        }
        defer { close(fd) }
        if session.needsDowngrade, let converted = Self.downgraded(fd, offset: b.offset, size: b.size) {
            var out: [UInt8] = []
            stuffer.encode(converted[...], into: &out)
            stuffer.finish(into: &out)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
            perform(session.bodySent(), context)
            return
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = b.offset, left = b.size
        while left > 0 {
            let n = chunk.withUnsafeMutableBytes { (try? Posix.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<min($0.count, left)]), offset: offset)) ?? 0 }
            if n <= 0 { break }
            var out: [UInt8] = []
            out.reserveCapacity(n + n / 16)
            stuffer.encode(chunk[0..<n], into: &out)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
            offset += n
            left -= n
        }
        var tail: [UInt8] = []
        stuffer.finish(into: &tail)
        if !tail.isEmpty { context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: tail)), promise: nil) }
        perform(session.bodySent(), context)
    }

    /// The message read whole and downgraded to 7 bits, or nil to send it as it is (not MIME,
    /// nothing to convert, or larger than a downgrade is done in memory for: Postfix sends
    /// what it cannot convert unchanged too).
    static func downgraded(_ fd: Int32, offset: Int, size: Int) -> [UInt8]? {
        guard size <= 64 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { (try? Posix.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]), offset: offset + done)) ?? 0 }
            if n <= 0 { return nil }
            done += n
        }
        return EightBitDowngrade.convert(bytes)
    }

    func armTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        let seconds: Int64
        switch session.waitingFor {
        case .nothing: return
        case .greeting: seconds = endpoint.heloTimeout
        case .command: seconds = endpoint.commandTimeout
        case .dataDone: seconds = endpoint.dataDoneTimeout
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            let (handler, context) = loopBound.value
            handler.perform(handler.session.timedOut(), context)
        }
    }
}

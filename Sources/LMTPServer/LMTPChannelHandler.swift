import NIOConcurrencyHelpers
import NIOCore
import Pipeline

/// Moves bytes between a channel and its ``LMTPSession`` and carries out the session's actions.
/// Lookups, spooling and delivery go to the connection's ``ConnectionWorker``; the event loop
/// never touches a file.
final class LMTPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: LMTPSession
    private var context: ChannelHandlerContext?
    private var worker: ConnectionWorker?
    private let delivery: @Sendable () -> LMTPDelivery
    private let registry: ConnectionRegistry
    private var id = 0
    /// Content handed to the worker but not yet spooled; reading pauses above the high mark.
    private var unspooled = 0
    private var readingPaused = false
    private static let highWater = 4 << 20
    private static let lowWater = 1 << 20

    /// The per-record deadline (`lmtp_timeout`): a client that completes no command line, data
    /// line or KiB of BDAT within it is cut off, however slowly it trickles bytes.
    private let timeout: TimeAmount
    private var lastRecords = 0
    private var wasAwaiting = true
    private var lastProgress = NIODeadline.now()
    private var deadlineTask: RepeatedTask?

    init(session: LMTPSession, delivery: @escaping @Sendable () -> LMTPDelivery, registry: ConnectionRegistry,
         timeout: TimeAmount = .seconds(300)) {
        self.timeout = timeout
        self.session = session
        self.delivery = delivery
        self.registry = registry
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        worker = ConnectionWorker(delivery: delivery) { result in
            loop.execute { loopBound.value.handle(result) }
        }
        id = registry.add { loop.execute { loopBound.value.shutdown() } }
        lastProgress = .now()
        let interval = TimeAmount.nanoseconds(max(TimeAmount.milliseconds(100).nanoseconds, min(TimeAmount.seconds(1).nanoseconds, timeout.nanoseconds / 4)))
        deadlineTask = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            loopBound.value.checkDeadline()
        }
        perform(session.start())
        context.fireChannelActive()
    }

    private func checkDeadline() {
        noteProgress()
        if session.awaitingClient && NIODeadline.now() - lastProgress > timeout {
            lastProgress = .now()
            perform(session.timedOut())
        }
    }

    /// Progress is a completed record, or the server handing the turn back to the client.
    private func noteProgress() {
        let awaiting = session.awaitingClient
        if session.records != lastRecords || (awaiting && !wasAwaiting) {
            lastRecords = session.records
            lastProgress = .now()
        }
        wasAwaiting = awaiting
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlineTask?.cancel()
        deadlineTask = nil
        perform(session.disconnected())
        worker?.finish()
        worker = nil
        registry.remove(id)
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        perform(session.receive(Array(buffer.readableBytesView)))
        noteProgress()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            perform(session.timedOut())
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func shutdown() { perform(session.shutdown()) }

    private func handle(_ result: ConnectionWorker.Result) {
        switch result {
        case .checked(let check): perform(session.recipientChecked(check))
        case .delivered(let statuses): perform(session.messageDelivered(statuses))
        case .spooled(let n):
            unspooled -= n
            if readingPaused && unspooled < Self.lowWater, let context {
                readingPaused = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
        }
    }

    private func perform(_ actions: [LMTPSession.Action]) {
        guard let context else { return }
        var wrote = false
        for action in actions {
            switch action {
            case .send(let bytes):
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .checkRecipient(let address, _):
                worker?.submit(.check(address: address))
            case .beginMessage:
                worker?.submit(.begin)
            case .content(let bytes):
                unspooled += bytes.count
                worker?.submit(.content(bytes))
                if unspooled > Self.highWater && !readingPaused {
                    // Flow control: the client waits while the disk catches up, so memory stays bounded.
                    readingPaused = true
                    context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                }
            case .endMessage(let envelope):
                worker?.submit(.end(envelope, received: Timestamp.now()))
            case .abortMessage:
                worker?.submit(.abort)
            case .close:
                if wrote { context.flush(); wrote = false }
                context.close(promise: nil)
                return
            }
        }
        if wrote { context.flush() }
    }
}

/// The open connections, so that shutdown can tell each session.
final class ConnectionRegistry: Sendable {
    private let state = NIOLockedValueBox<(next: Int, handlers: [Int: @Sendable () -> Void])>((0, [:]))

    func add(_ onShutdown: @escaping @Sendable () -> Void) -> Int {
        state.withLockedValue { s in
            s.next += 1
            s.handlers[s.next] = onShutdown
            return s.next
        }
    }

    func remove(_ id: Int) { state.withLockedValue { _ = $0.handlers.removeValue(forKey: id) } }

    var count: Int { state.withLockedValue { $0.handlers.count } }

    func shutdownAll() {
        let all = state.withLockedValue { Array($0.handlers.values) }
        for h in all { h() }
    }
}

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Pipeline

/// The policy service (`policy_listen`) and the socketmap table server (`socketmap_listen`):
/// Postfix asks them at SMTP time whether a recipient exists and has room, so unknown and
/// over-quota recipients are refused before Postfix accepts the message (no backscatter).
/// Lookups run on the delivery thread pool, one request at a time per connection, answered
/// in order; a malformed or oversized request closes the connection.
final class LookupChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Kind { case policy, socketmap }

    let kind: Kind
    let engine: @Sendable () -> LMTPDelivery
    let pool: NIOThreadPool
    var policy = PolicyDecoder()
    var netstrings = NetstringDecoder()
    /// The previous request's answer: the next one is written after it.
    var last: EventLoopFuture<Void>?

    init(kind: Kind, engine: @escaping @Sendable () -> LMTPDelivery, pool: NIOThreadPool) {
        self.kind = kind
        self.engine = engine
        self.pool = pool
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        var answers: [@Sendable (LMTPDelivery) -> [UInt8]] = []
        do {
            switch kind {
            case .policy:
                for request in try policy.feed(bytes) {
                    answers.append { PolicyDecoder.answer(RecipientQuery.policyAction(request, engine: $0)) }
                }
            case .socketmap:
                for request in try netstrings.feed(bytes) {
                    answers.append { NetstringDecoder.encode(RecipientQuery.socketmapAnswer(request, engine: $0)) }
                }
            }
        } catch {
            context.close(promise: nil)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound(context, eventLoop: loop)
        let engine = self.engine
        for answer in answers {
            let previous = last ?? loop.makeSucceededVoidFuture()
            let pool = self.pool
            last = previous.flatMap {
                pool.runIfActive(eventLoop: loop) { answer(engine()) }
            }.map { reply in
                let ctx = bound.value
                ctx.writeAndFlush(NIOAny(ctx.channel.allocator.buffer(bytes: reply)), promise: nil)
            }.flatMapErrorThrowing { _ in
                bound.value.close(promise: nil)
            }
        }
    }
}

import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// The Prometheus exposition endpoint of `mdad serve` (`metrics_listen = inet:127.0.0.1:9125`):
/// `GET /metrics` answers the text format; anything else gets 404.
public enum MetricsEndpoint {
    /// The registry every metric goes to once ``bootstrap()`` ran.
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = NIOLockedValueBox(false)

    /// Makes swift-metrics report to ``registry`` (once per process: swift-metrics allows one
    /// bootstrap; a reload keeps it).
    public static func bootstrap() {
        let first = bootstrapped.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var factory = PrometheusMetricsFactory(registry: registry)
        // Stage latencies run from microseconds (a lookup) to seconds (a filter program).
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
            .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// Binds `inet:HOST:PORT` and serves until the channel is closed.
    static func bind(_ listener: String, group: EventLoopGroup) async throws -> Channel {
        guard listener.hasPrefix("inet:"), let colon = listener.lastIndex(of: ":"),
              let port = Int(listener[listener.index(after: colon)...]) else {
            throw MetricsListenError(listener: listener)
        }
        var host = String(listener[listener.index(listener.startIndex, offsetBy: 5)..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler())
                }
            }
            .bind(host: host, port: port).get()
    }

    struct MetricsListenError: Error, CustomStringConvertible {
        let listener: String
        var description: String { "bad metrics_listen \"\(listener)\"; expected inet:host:port" }
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let found = head.method == .GET && (head.uri == "/metrics" || head.uri.hasPrefix("/metrics?"))
        let body = found ? MetricsEndpoint.registry.emitToBuffer() : Array("not found; try /metrics\n".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Pipeline
import PostgresNIO

/// The connections of one `pgsql:` table: at most one per host, opened on first use, reused
/// by every lookup (postgres-nio queues concurrent queries on one connection), dropped and
/// reopened after a failure.
///
/// Fail-over as Postfix does it: a host with an open connection is used first; otherwise the
/// hosts are tried in a random order fixed at open; a host that failed is left alone for
/// `retry_interval` seconds. A server error (bad SQL, missing table) is the table's answer and
/// is not retried elsewhere; a broken connection is retried once on a fresh one.
///
/// Lookups are synchronous: they run on delivery threads and wait on the future with a
/// deadline, never on an event loop (the connections live on a small event loop group of their
/// own, so a busy LMTP listener never delays a lookup and the other way round).
final class PgsqlConnections: Sendable {
    struct Host: Sendable {
        var connection: PostgresConnection?
        var downUntil: NIODeadline?
        var lastError = ""
    }

    enum Failure: Error {
        /// The server answered with an error: the query is wrong, not the link.
        case server(String)
        /// The connection failed or timed out; another host or a new connection may work.
        case link(String)
        /// The answer broke a limit or could not be read as text.
        case answer(String)
    }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    static let logger = Logger(label: "mdad.pgsql", factory: { _ in SwiftLogNoOpLogHandler() })
    static let connectionIDs = NIOLockedValueBox(0)

    /// Limits on one answer: rows × columns, and bytes.
    static let maxValues = 100_000
    static let maxBytes = 8 << 20

    let settings: PgsqlSettings
    let order: [Int]
    let hosts: NIOLockedValueBox<[Host]>

    /// One TLS context per endpoint (nil: no TLS), made when the table is opened.
    let tlsContexts: [NIOSSLContext?]

    init(_ settings: PgsqlSettings) throws(ConfigError) {
        self.settings = settings
        var contexts: [NIOSSLContext?] = []
        for e in settings.endpoints {
            var c = TLSConfiguration.makeClientConfiguration()
            var root: String?
            switch e.tls {
            case .disable: contexts.append(nil); continue
            case .prefer, .require: c.certificateVerification = .none
            case .verifyCA(let r): c.certificateVerification = .noHostnameVerification; root = r
            case .verifyFull(let r): c.certificateVerification = .fullVerification; root = r
            }
            if let root { c.trustRoots = .file(root) }
            do {
                contexts.append(try NIOSSLContext(configuration: c))
            } catch {
                throw ConfigError(file: settings.file, "TLS set-up for \(e.description): \(error)")
            }
        }
        self.tlsContexts = contexts
        self.order = Array(settings.endpoints.indices).shuffled()
        self.hosts = NIOLockedValueBox(Array(repeating: Host(), count: settings.endpoints.count))
    }

    /// Runs the statement with its parameters and returns every column of every row, row by
    /// row (nil for SQL NULL).
    func run(_ sql: String, _ parameters: [String]) throws(Failure) -> [String?] {
        let now = NIODeadline.now()
        let snapshot = hosts.withLockedValue { $0 }
        let connected = order.filter { snapshot[$0].connection != nil }
        let untried = order.filter { snapshot[$0].connection == nil && (snapshot[$0].downUntil.map { $0 <= now } ?? true) }
        let candidates = connected + untried
        guard !candidates.isEmpty else {
            let reasons = order.map { "\(settings.endpoints[$0].description): \(snapshot[$0].lastError)" }
            throw .link("every server failed in the last \(settings.retryInterval)s (\(reasons.joined(separator: "; ")))")
        }
        var errors: [String] = []
        for index in candidates {
            var reused = snapshot[index].connection != nil
            while true {
                let connection: PostgresConnection
                do {
                    // A connection the server has closed (a restart, pg_terminate_backend) is
                    // replaced before it is used: a query written to it would wait for its timeout.
                    if reused, let existing = snapshot[index].connection, !existing.isClosed {
                        connection = existing
                    } else {
                        if let stale = snapshot[index].connection { drop(index, stale) }
                        reused = false
                        connection = try open(index)
                    }
                } catch {
                    errors.append(markDown(index, error))
                    break
                }
                do {
                    return try execute(connection, sql, parameters)
                } catch .link(let message) {
                    drop(index, connection)
                    if reused { reused = false; continue }   // a stale connection: one fresh try
                    errors.append(markDown(index, .link(message)))
                    break
                } catch {
                    if case .answer = error { drop(index, connection) }
                    throw error
                }
            }
        }
        throw .link(errors.joined(separator: "; "))
    }

    private func open(_ index: Int) throws(Failure) -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        let e = settings.endpoints[index]
        switch e.address {
        case .inet(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch (e.tls, tlsContexts[index]) {
            case (.prefer, let context?): tls = .prefer(context)
            case (.disable, _), (_, nil): tls = .disable
            case (_, let context?): tls = .require(context)
            }
            configuration = .init(host: host, port: port, username: e.user, password: e.password, database: e.dbname, tls: tls)
        case .unix(let path):
            configuration = .init(unixSocketPath: path, username: e.user, password: e.password, database: e.dbname)
        }
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeout))
        let id = PgsqlConnections.connectionIDs.withLockedValue { $0 += 1; return $0 }
        let loop = PgsqlConnections.group.next()
        let fixed = configuration
        // The connect timeout covers the TCP connect only; the deadline here covers the
        // start-up and authentication too.
        let connection = try wait(on: loop, seconds: settings.connectTimeout, what: "connect", {
            PostgresConnection.connect(on: loop, configuration: fixed, id: id, logger: PgsqlConnections.logger)
        }, late: { late in PgsqlConnections.close(late) })
        // Another thread may have connected meanwhile (the first lookups of a burst): the
        // connection already shared wins, ours is closed, and nobody's query is cut off.
        let chosen = hosts.withLockedValue { h -> PostgresConnection in
            if let other = h[index].connection, !other.isClosed { return other }
            h[index].connection = connection
            h[index].downUntil = nil
            return connection
        }
        if chosen !== connection { PgsqlConnections.close(connection) }
        return chosen
    }

    private func execute(_ connection: PostgresConnection, _ sql: String, _ parameters: [String]) throws(Failure) -> [String?] {
        var binds = PostgresBindings(capacity: parameters.count)
        for p in parameters { binds.append(UntypedText(p)) }
        let collected = NIOLockedValueBox((values: [String?](), bytes: 0))
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        _ = try wait(on: connection.eventLoop, seconds: settings.queryTimeout, what: "query", {
          connection.query(query, logger: PgsqlConnections.logger) { row in
            for cell in row {
                let value = try PgsqlValue.text(cell)
                try collected.withLockedValue { c in
                    c.values.append(value)
                    c.bytes += value?.utf8.count ?? 0
                    if c.values.count > PgsqlConnections.maxValues || c.bytes > PgsqlConnections.maxBytes {
                        throw PgsqlValue.Unreadable("the answer has more than \(PgsqlConnections.maxValues) values or \(PgsqlConnections.maxBytes) bytes")
                    }
                }
            }
          }
        }, late: { _ in })
        return collected.withLockedValue { $0.values }
    }

    /// Starts `start` on `loop` and waits for its result from a delivery thread, at most
    /// `seconds`; what arrives too late is handed to `late` (a connection to close).
    ///
    /// Everything is set up inside one task on the loop: every call into NIO from another
    /// thread is a wake-up of the loop, and on a busy machine each wake-up costs a time slice.
    private func wait<T: Sendable>(on loop: any EventLoop, seconds: Int, what: String,
                                   _ start: @escaping @Sendable () -> EventLoopFuture<T>,
                                   late: @escaping @Sendable (T) -> Void) throws(Failure) -> T {
        let result = loop.flatSubmit { () -> EventLoopFuture<T> in
            let promise = loop.makePromise(of: T.self)
            let timer = loop.scheduleTask(in: .seconds(Int64(seconds))) {
                promise.fail(Failure.link("\(what) timed out after \(seconds)s"))
            }
            start().hop(to: loop).whenComplete { result in
                timer.cancel()
                switch result {
                case .success(let value):
                    // succeed(…) after the timer has failed the promise is ignored by NIO;
                    // then the value belongs to nobody and is given back.
                    promise.futureResult.whenFailure { _ in late(value) }
                    promise.succeed(value)
                case .failure(let error):
                    promise.fail(error)
                }
            }
            return promise.futureResult
        }
        do {
            return try result.wait()
        } catch let f as Failure {
            throw f
        } catch let e as PSQLError {
            throw PgsqlConnections.classify(e)
        } catch let u as PgsqlValue.Unreadable {
            throw .answer(u.message)
        } catch {
            throw .link("\(error)")
        }
    }

    static func classify(_ e: PSQLError) -> Failure {
        if e.code == .server, let info = e.serverInfo {
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return .server((info[.message] ?? "server error") + state)
        }
        if let u = e.underlying as? PgsqlValue.Unreadable { return .answer(u.message) }
        let cause = e.underlying.map { ": \($0)" } ?? ""
        return .link("\(e.code)\(cause)")
    }

    /// Closes without waiting (the future form of close(); errors do not matter then). The
    /// callback holds the connection until it is closed: postgres-nio must not see it released
    /// while its channel is still open.
    static func close(_ connection: PostgresConnection) {
        let closed: EventLoopFuture<Void> = connection.close()
        closed.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    deinit {
        for host in hosts.withLockedValue({ $0 }) {
            if let c = host.connection { PgsqlConnections.close(c) }
        }
    }

    private func drop(_ index: Int, _ connection: PostgresConnection) {
        PgsqlConnections.close(connection)
        hosts.withLockedValue { h in
            if h[index].connection === connection { h[index].connection = nil }
        }
    }

    private func markDown(_ index: Int, _ failure: Failure) -> String {
        let message: String
        switch failure {
        case .server(let m), .link(let m), .answer(let m): message = m
        }
        let text = "\(settings.endpoints[index].description): \(message)"
        hosts.withLockedValue { h in
            h[index].downUntil = .now() + .seconds(Int64(settings.retryInterval))
            h[index].lastError = message
        }
        return text
    }
}

/// A parameter sent as text without a type (OID 0): the server infers the type from where the
/// parameter stands, as it does for the quoted literal Postfix would have sent.
struct UntypedText: PostgresDynamicTypeEncodable {
    let value: String
    init(_ value: String) { self.value = value }
    var psqlType: PostgresDataType { .null }
    var psqlFormat: PostgresFormat { .text }
    func encode<E: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        buffer.writeString(value)
    }
}

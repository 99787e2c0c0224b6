import Foundation
import Testing

/// The queue manager's metrics on `mdad serve`'s Prometheus endpoint: queue sizes and finished
/// attempts, scraped over HTTP while real mail goes through the null client's queue.
@Suite("Queue metrics", .serialized)
struct QueueMetricsTests {
    let scraper = MetricsTests()

    func sample(_ port: Int, _ name: String) throws -> Double? {
        let r = try scraper.scrape(port)
        return r.status == 200 ? scraper.value(r.body, name) : nil
    }

    @Test func deferredThenSentMailMovesTheGaugesAndCounters() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-qm-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A relay that answers 421 at the greeting: the message is deferred.
        let busy = try ScriptedSMTPServer(directory: dir, arguments: ["--greeting", "421 4.3.2 not now"])
        let metricsPort = try freeLoopbackPort()
        let c = try NullClient(relayhost: "[127.0.0.1]:\(busy.port)", extra: "metrics_listen = inet:127.0.0.1:\(metricsPort)")
        try c.start()
        defer { c.stop(); busy.stop() }
        let deferredGauge = #"mdad_queue_messages{queue="deferred"}"#
        #expect(waitUntil(10) { (try? sample(metricsPort, deferredGauge)) == 0 }, "the gauges start at 0")
        #expect(try sample(metricsPort, #"mdad_queue_attempts_total{outcome="deferred"}"#) == nil)

        #expect(try c.sendmail(["-f", "alice@example.test", "bob@example.net", "carol@example.net"], "Subject: q\n\nbody\n").status == 0)
        #expect(waitUntil(15) { c.files("deferred").count == 1 }, "\(c.log)")
        #expect(waitUntil(5) { (try? sample(metricsPort, deferredGauge)) == 1 }, "\((try? scraper.scrape(metricsPort).body) ?? "")")
        #expect((try sample(metricsPort, #"mdad_queue_attempts_total{outcome="deferred"}"#) ?? 0) >= 1)
        #expect(try sample(metricsPort, #"mdad_queue_attempts_total{outcome="sent"}"#) == nil)
        // Per recipient: both were deferred (at least once each).
        #expect((try sample(metricsPort, #"mdad_queue_recipients_total{outcome="deferred"}"#) ?? 0) >= 2)
        c.stop()

        // The same queue behind a relay that accepts: the deferred message goes out.
        let good = try ScriptedSMTPServer(directory: dir)
        defer { good.stop() }
        var main = try String(contentsOf: c.etc.appendingPathComponent("main.cf"), encoding: .utf8)
        main = main.replacingOccurrences(of: "[127.0.0.1]:\(busy.port)", with: "[127.0.0.1]:\(good.port)")
        try main.write(to: c.etc.appendingPathComponent("main.cf"), atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: c.queue.path + "/flush", contents: Data())
        try c.start()
        #expect(waitUntil(20) { good.received.count == 1 && c.queued == 0 }, "\(c.log)")
        #expect(waitUntil(5) { (try? sample(metricsPort, #"mdad_queue_attempts_total{outcome="sent"}"#)) == 1 })
        #expect(try sample(metricsPort, #"mdad_queue_recipients_total{outcome="sent"}"#) == 2, "one message, two recipients")
        // The gauges follow within a second (the queue manager samples them once a second).
        #expect(waitUntil(5) { (try? sample(metricsPort, #"mdad_queue_messages{queue="active"}"#)) == 0 })
        #expect(try sample(metricsPort, deferredGauge) == 0)
        #expect(try sample(metricsPort, #"mdad_queue_messages{queue="hold"}"#) == 0)
    }
}

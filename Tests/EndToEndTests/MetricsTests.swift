import Foundation
import Testing

/// `mdad serve` with `metrics_listen`: a real scrape over HTTP after real LMTP deliveries.
@Suite("Prometheus metrics", .serialized)
struct MetricsTests {
    func scrape(_ port: Int, path: String = "/metrics") throws -> (status: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys, urllib.request, urllib.error
            try:
                r = urllib.request.urlopen("http://127.0.0.1:\(port)\(path)", timeout=10)
                print(r.status); sys.stdout.write(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code)
            """]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let first = text.prefix { $0 != "\n" }
        return (Int(first) ?? 0, String(text.dropFirst(first.count + 1)))
    }

    /// The value of one sample line, e.g. `mdad_lmtp_connections_total`.
    func value(_ body: String, _ sample: String) -> Double? {
        for line in body.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }

    @Test func deliveriesStagesAndConnectionsAreExported() throws {
        let metricsPort = try freeLoopbackPort()
        let server = try LMTPInstance(extraMainCF: "metrics_listen = inet:127.0.0.1:\(metricsPort)\npipeline = access")
        defer { server.cleanup() }
        let empty = try scrape(metricsPort)
        #expect(empty.status == 200)
        #expect(value(empty.body, #"mdad_deliveries_total{status="sent",backend="maildir"}"#) == nil)

        // alice and bob are delivered, nobody is refused at RCPT time (not a delivery).
        _ = try server.client("per-recipient")
        let after = try scrape(metricsPort)
        #expect(after.status == 200)
        #expect(value(after.body, #"mdad_deliveries_total{status="sent",backend="maildir"}"#) == 2, "\(after.body)")
        #expect(value(after.body, #"mdad_stage_duration_seconds_count{stage="access"}"#) == 1)
        #expect(value(after.body, "mdad_lmtp_connections_total") == 1)
        #expect(value(after.body, "mdad_lmtp_connections") == 0)
        #expect(after.body.contains("# TYPE mdad_stage_duration_seconds histogram"))

        #expect(try scrape(metricsPort, path: "/other").status == 404)
    }
}

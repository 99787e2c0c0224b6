import Foundation
import Testing
@testable import Spam

/// Debian's rspamd on loopback, started and stopped by the test: Debian's stock configuration
/// (/etc/rspamd) read as it is, with a configuration directory of its own in a temporary
/// directory (its LOCAL_CONFDIR, dbdir, rundir, logdir, pidfile) that turns off everything
/// that would use the network: RBLs, SURBL, fuzzy, SPF/DKIM/DMARC/ARC, ASN, the hostname
/// checks, redis users, modules with remote maps; DNS goes to a port on loopback where
/// nothing answers.
/// A short TLD list keeps the start quick (rspamd compiles its TLD list with hyperscan).
/// Four test rules score a message by a word in its Subject, one per action.
struct RspamdHarness {
    let directory: URL
    let process: Process
    let port: Int

    static let binary = "/usr/bin/rspamd"
    static var installed: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Modules that reach the network, need redis or load remote maps.
    static let disabledModules = [
        "rbl", "surbl", "fuzzy_check", "spf", "dkim", "dmarc", "arc", "asn", "emails", "phishing", "rspamd_update", "mx_check",
        "neural", "ratelimit", "greylist", "reputation", "url_redirector", "history_redis", "replies", "dcc", "p0f", "antivirus",
        "external_services", "clickhouse", "elastic", "metadata_exporter", "metric_exporter", "bimi", "dkim_signing", "hfilter",
        // Their stock configuration loads maps from rspamd's web site.
        "whitelist", "multimap", "mime_types", "mid",
    ]

    /// The rules the tests use: the Subject word decides the action.
    static let testRules = """
        MDAD_GREY { re = "Subject=/MDAD-GREY/"; score = 4.5; description = "mdad test: greylist"; }
        MDAD_TAG { re = "Subject=/MDAD-TAG/"; score = 6.5; description = "mdad test: add header"; }
        MDAD_REWRITE { re = "Subject=/MDAD-REWRITE/"; score = 9.0; description = "mdad test: rewrite subject"; }
        MDAD_REJECT { re = "Subject=/MDAD-REJECT/"; score = 20.0; description = "mdad test: reject"; }

        """

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mdad-rspamd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fm = FileManager.default
        for sub in ["local.d", "override.d", "db", "run", "log"] {
            try fm.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        port = Int.random(in: 20_000...40_000)
        let d = directory.path
        try """
            .include "$CONFDIR/common.conf"
            options {
                pidfile = "$RUNDIR/rspamd.pid";
                .include "$CONFDIR/options.inc"
                .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"
            }
            logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
            worker "normal" {
                bind_socket = "127.0.0.1:\(port)";
                count = 1;
                .include "$CONFDIR/worker-normal.inc"
            }

            """.write(toFile: "\(d)/rspamd.conf", atomically: true, encoding: .utf8)
        // Nothing listens on 127.0.0.1:1: every DNS query fails at once.
        try """
            dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 1; }
            local_addrs = [];
            url_tld = "\(d)/tlds.dat";

            """.write(toFile: "\(d)/override.d/options.inc", atomically: true, encoding: .utf8)
        try "com\norg\nnet\nexample\ntest\ninfo\nbiz\nru\n".write(toFile: "\(d)/tlds.dat", atomically: true, encoding: .utf8)
        for m in Self.disabledModules {
            try "enabled = false;\n".write(toFile: "\(d)/override.d/\(m).conf", atomically: true, encoding: .utf8)
        }
        try "classifier \"bayes\" { enabled = false; }\n".write(toFile: "\(d)/override.d/statistic.conf", atomically: true, encoding: .utf8)
        try Self.testRules.write(toFile: "\(d)/local.d/regexp.conf", atomically: true, encoding: .utf8)
        try "rewrite_subject = 8;\nsubject = \"[SPAM] %s\";\n".write(toFile: "\(d)/local.d/actions.conf", atomically: true, encoding: .utf8)

        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["-c", "\(d)/rspamd.conf", "-u", "root", "-g", "root", "-f", "-i",
                             "--var", "LOCAL_CONFDIR=\(d)", "--var", "DBDIR=\(d)/db", "--var", "RUNDIR=\(d)/run", "--var", "LOGDIR=\(d)/log"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Ready when /ping answers.
        let deadline = Date().addingTimeInterval(180)
        var last = ""
        while Date() < deadline, process.isRunning {
            do {
                let raw = try RspamdClient.exchange("127.0.0.1:\(port)", Array("GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8), timeout: 2)
                let (status, body) = try RspamdProtocol.parseHTTP(raw)
                if status == 200, String(decoding: body, as: UTF8.self).contains("pong") { return }
                last = "HTTP \(status)"
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        let log = (try? String(contentsOfFile: "\(d)/log/rspamd.log", encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
        stop()
        throw RspamdProtocol.ProtocolError(description: "rspamd did not start on port \(port): \(last)\n\(log)")
    }

    /// SIGTERM to the main process (it stops its workers), SIGKILL after 15 seconds.
    func stop() {
        let pid = process.processIdentifier
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

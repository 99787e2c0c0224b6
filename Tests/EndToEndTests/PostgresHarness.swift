import Foundation
import Testing

/// A PostgreSQL server of the tests' own, from Debian's postgresql package: a fresh cluster in
/// a temporary directory (initdb), listening only on 127.0.0.1 at a free port and on a UNIX
/// socket in that directory, with its own pg_hba.conf (trust on the socket and for the
/// `postgres` superuser, scram-sha-256 passwords for every other user on TCP). It runs as the
/// `postgres` system user when the tests run as root (initdb refuses root), is started once per
/// suite by ``PostgresScope`` and stopped by its PID. The machine's own clusters and
/// /etc/postgresql are never touched.
final class PostgresServer: Sendable {
    @TaskLocal static var current: PostgresServer?

    let root: String
    let port: Int
    let bin: String
    let pid: Int32
    let prefix: [String]
    var socketDirectory: String { root + "/socket" }
    var socketFile: String { socketDirectory + "/.s.PGSQL.\(port)" }
    /// The server's self-signed certificate (CN and subjectAltName localhost).
    var certificate: String { root + "/data/server.crt" }

    /// The user and password the tables log in with (over TCP, with scram-sha-256).
    static let user = "mdad"
    static let password = "s3cret pw"
    static let database = "maildb"

    private init(root: String, port: Int, bin: String, pid: Int32, prefix: [String]) {
        self.root = root
        self.port = port
        self.bin = bin
        self.pid = pid
        self.prefix = prefix
    }

    /// The newest installed server's programs (/usr/lib/postgresql/N/bin).
    static func binDirectory() throws -> String {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
            .compactMap(Int.init).sorted()
        guard let v = versions.last(where: { FileManager.default.isExecutableFile(atPath: "\(base)/\($0)/bin/initdb") }) else {
            throw SkipReason("PostgreSQL is not installed (Debian package postgresql, in scripts/deps TEST_PACKAGES)")
        }
        return "\(base)/\(v)/bin"
    }

    static func start() throws -> PostgresServer {
        let bin = try binDirectory()
        // Under /tmp when root: the postgres user must be able to reach it ($TMPDIR may not be).
        let root = (getuid() == 0 ? "/tmp/" : NSTemporaryDirectory()) + "mdad-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/socket", withIntermediateDirectories: true)
        var prefix: [String] = []
        if getuid() == 0 {
            guard let pw = getpwnam("postgres") else { throw SkipReason("no postgres system user (package postgresql)") }
            let (uid, gid) = (pw.pointee.pw_uid, pw.pointee.pw_gid)
            for p in [root, root + "/socket"] { chown(p, uid, gid) }
            prefix = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"]
        }
        let data = root + "/data"
        let initdb = try run(prefix + [bin + "/initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--no-locale",
                                       "--auth=trust", "--no-sync"])
        guard initdb.status == 0 else { throw SkipReason("initdb failed: \(initdb.stderr)") }
        let port = try freeLoopbackPort()
        // A self-signed certificate for localhost: TLS on, and the `tlsonly` role refused
        // without it.
        let cert = try run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                            "-keyout", data + "/server.key", "-out", data + "/server.crt"])
        guard cert.status == 0 else { throw SkipReason("openssl req failed: \(cert.stderr)") }
        chmod(data + "/server.key", 0o600)
        if getuid() == 0, let pw = getpwnam("postgres") {
            for f in ["/server.key", "/server.crt"] { chown(data + f, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        let conf = """
            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = '\(root)/socket'
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            max_connections = 60
            shared_buffers = 16MB
            logging_collector = off
            ssl = on
            ssl_cert_file = 'server.crt'
            ssl_key_file = 'server.key'

            """
        let hba = """
            local all all trust
            host all postgres 127.0.0.1/32 trust
            hostnossl all tlsonly 127.0.0.1/32 reject
            host all all 127.0.0.1/32 scram-sha-256

            """
        try appendText(conf, to: data + "/postgresql.conf")
        try hba.write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)

        let p = Process()
        let command = prefix + [bin + "/postgres", "-D", data]
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        _ = FileManager.default.createFile(atPath: root + "/server.log", contents: nil)
        if getuid() == 0, let pw = getpwnam("postgres") { chown(root + "/server.log", pw.pointee.pw_uid, pw.pointee.pw_gid) }
        let log = FileHandle(forWritingAtPath: root + "/server.log")
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let server = PostgresServer(root: root, port: port, bin: bin, pid: p.processIdentifier, prefix: prefix)
        // Ready when it accepts connections on the socket; at most 30 s.
        let deadline = Date().addingTimeInterval(30)
        while true {
            let r = try run(prefix + [bin + "/pg_isready", "-q", "-h", root + "/socket", "-p", "\(port)"])
            if r.status == 0 { break }
            if !p.isRunning || Date() > deadline {
                server.stop()
                throw SkipReason("postgres did not start: \((try? String(contentsOfFile: root + "/server.log", encoding: .utf8)) ?? "")")
            }
            usleep(100_000)
        }
        do {
            // CREATE DATABASE cannot share psql's transaction with other statements.
            try server.psql("CREATE ROLE \(user) LOGIN PASSWORD '\(password)'", database: "postgres")
            try server.psql("CREATE DATABASE \(database) OWNER \(user)", database: "postgres")
            try server.psql("CREATE ROLE tlsonly LOGIN PASSWORD '\(password)'", database: "postgres")
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Stops the server by its PID (SIGINT: PostgreSQL's fast shutdown), waits for it and
    /// removes the directory.
    func stop() {
        kill(pid, SIGINT)
        var status: Int32 = 0
        for _ in 0..<300 {
            if waitpid(pid, &status, WNOHANG) == pid || kill(pid, 0) != 0 { break }
            usleep(50_000)
        }
        if kill(pid, 0) == 0 { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs SQL as the superuser over the UNIX socket; returns psql's unaligned output.
    @discardableResult
    func psql(_ sql: String, database: String = PostgresServer.database) throws -> String {
        let r = try PostgresServer.run(prefix + [bin + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                                 "-h", socketDirectory, "-p", "\(port)", "-U", "postgres", "-d", database, "-c", sql])
        guard r.status == 0 else { throw SkipReason("psql failed: \(r.stderr)") }
        return r.stdout
    }

    /// A pgsql_table(5) file for this server (TCP, password) with `extra` lines after it.
    func tableFile(_ dir: URL, _ name: String, _ extra: String, hosts: String? = nil) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try """
            hosts = \(hosts ?? "127.0.0.1:\(port)")
            user = \(PostgresServer.user)
            password = \(PostgresServer.password)
            dbname = \(PostgresServer.database)
            \(extra)

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs a program (no shell) with `stdin` as its input.
    static func run(_ command: [String], stdin: String? = nil) throws -> PostaliasDifferentialTests.Run {
        try PostaliasDifferentialTests.run(command[0], Array(command.dropFirst()), stdin: stdin)
    }

    static func appendText(_ text: String, to path: String) throws {
        let h = try FileHandle(forWritingAtPath: path).unwrapped(path)
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
    }
}

extension Optional {
    func unwrapped(_ what: String) throws -> Wrapped {
        guard let v = self else { throw SkipReason("cannot open \(what)") }
        return v
    }
}

/// Starts one ``PostgresServer`` for the suite it is attached to (and the suites nested in it),
/// makes it ``PostgresServer/current`` for their tests, and stops it when they are done.
struct PostgresScope: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        try await PostgresServer.$current.withValue(server) { try await function() }
    }
}

extension Trait where Self == PostgresScope {
    static var postgres: PostgresScope { PostgresScope() }
}

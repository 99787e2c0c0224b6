import Foundation
import PgsqlTable
import Pipeline
import Testing

/// `pgsql:` tables against a real PostgreSQL (``PostgresServer``, started once for all of these
/// suites), judged by Postfix's own pgsql table (postfix-pgsql's `postmap -q`).
@Suite("pgsql tables against a real PostgreSQL", .serialized, .postgres)
struct PgsqlTests {
    static let schema = """
        CREATE TABLE aliases (alias text NOT NULL, goto text, rank int);
        INSERT INTO aliases VALUES
          ('postmaster@example.com', 'root@example.com', 1),
          ('team@example.com', 'alice@example.com', 1),
          ('team@example.com', 'bob@example.org', 2),
          ('team@example.com', NULL, 3),
          ('team@example.com', '', 4),
          ('empty@example.com', '', 1),
          ('null@example.com', NULL, 1),
          ('o''brien\\x@example.com', 'quoted@example.com', 1),
          ('local', 'localuser', 1),
          ('MixedCase@Example.com', 'mixed', 1),
          ('@example.net', 'catchall@example.net', 1),
          ('100%@example.com', 'percent@example.com', 1),
          ('alice@sub.example.com', '@example.com', 1);
        CREATE TABLE mailboxes (username text, domain text, maildir text, uid int, active boolean);
        INSERT INTO mailboxes VALUES
          ('alice', 'example.com', 'example.com/alice/', 5001, true),
          ('bob', 'example.com', 'example.com/bob/', 5002, false),
          ('carol', 'sub.example.com', 'sub.example.com/carol/', 5003, true);
        GRANT SELECT ON aliases, mailboxes TO mdad, tlsonly;
        """

    /// Loads the schema once (the server is shared by every test in the suite).
    static func server() throws -> PostgresServer {
        let server = try #require(PostgresServer.current)
        if try server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'aliases'").trimmingWhitespace() == "0" {
            try server.psql(schema)
        }
        PgsqlTableType.register()
        return server
    }

    static func directory() throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mdad-pgsql-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("etc"), withIntermediateDirectories: true)
        try "".write(to: dir.appendingPathComponent("etc/main.cf"), atomically: true, encoding: .utf8)
        return dir
    }

    static func open(_ path: String) throws -> any LookupTable {
        try TableRegistry.builtin.open("pgsql:" + path)
    }

    /// The table files compared with Postfix: every expansion, result_format, domain, several
    /// rows and columns, NULL and empty values, the obsolete query interface.
    static let tables: [String: String] = [
        "plain": "query = SELECT goto FROM aliases WHERE alias = '%s' ORDER BY rank",
        "userdomain": "query = SELECT maildir FROM mailboxes WHERE username = '%u' AND domain = '%d'",
        "joined": "query = SELECT goto FROM aliases WHERE alias = '%u@%d' ORDER BY rank",
        "labels": "query = SELECT maildir FROM mailboxes WHERE domain = '%2.%1' AND username = '%U'",
        "format": """
            query = SELECT goto FROM aliases WHERE alias = '%s' ORDER BY rank
            result_format = smtp:[%d] %u for %U at %D (%S) 100%%
            """,
        "valueuser": """
            query = SELECT goto FROM aliases WHERE alias = '%s' ORDER BY rank
            result_format = %u
            """,
        "domain": """
            query = SELECT goto FROM aliases WHERE alias = '%s' ORDER BY rank
            domain = example.com, Example.NET
            """,
        "columns": "query = SELECT goto, alias, rank FROM aliases WHERE alias = '%s' ORDER BY rank",
        "types": "query = SELECT uid, active, username FROM mailboxes WHERE username || '@' || domain = '%s'",
        "percent": "query = SELECT goto FROM aliases WHERE alias = '%u%%@%d' OR alias LIKE 'post%%' AND '%s' = 'p@x'",
        "obsolete": """
            table = aliases
            select_field = goto
            where_field = alias
            additional_conditions = AND rank = 1
            """,
    ]

    /// Tables compared key by key with a `postmap -q KEY` each: a lookup error ends Postfix's
    /// `-q -` and loses the answers it had buffered, which mdad prints first.
    static let singleKeyTables: [String: String] = [
        "limit": """
            query = SELECT goto FROM aliases WHERE alias = '%s' ORDER BY rank
            expansion_limit = 1
            """,
    ]

    static let keys = [
        "postmaster@example.com", "team@example.com", "TEAM@Example.COM", "empty@example.com", "null@example.com",
        "o'brien\\x@example.com", "local", "mixedcase@example.com", "@example.net", "nobody@example.com",
        "alice@example.com", "bob@example.com", "alice@sub.example.com", "carol@sub.example.com", "@example.com",
        "user@", "100%@example.com", "100@example.com", "x' OR '1'='1", "'; DROP TABLE aliases; --",
        "a\\'b@example.com", "p@x", "carol@a..sub.example.com",
    ]

    @Test func answersAsPostfixPostmap() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let etc = dir.appendingPathComponent("etc").path
        var agree = 0, total = 0, found = 0
        var differences: [String] = []
        let stdin = Self.keys.joined(separator: "\n") + "\n"
        // The same query through the other ways of naming the server: URIs over TCP (the file's
        // user and password unused) and over the UNIX socket.
        let plain = Self.tables["plain"]!
        let uriHosts = [
            "uri": "postgresql://\(PostgresServer.user):s3cret%20pw@127.0.0.1:\(server.port)/\(PostgresServer.database)",
            "urisocket": "postgresql:///\(PostgresServer.database)?host=\(server.socketDirectory)&port=\(server.port)&user=\(PostgresServer.user)",
        ]
        let runs = Self.tables.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value, String?.none) }
            + uriHosts.sorted(by: { $0.key < $1.key }).map { ($0.key, plain, Optional($0.value)) }
        for (name, body, hosts) in runs {
            var file = try server.tableFile(dir, name + ".cf", body, hosts: hosts)
            if hosts != nil {
                // No user or password: the URI must carry them. dbname stays, wrong on purpose:
                // Postfix 3.7 wants one there, and ignores it for URI hosts.
                let text = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
                    .filter { !$0.hasPrefix("user") && !$0.hasPrefix("password") }
                    .map { $0.hasPrefix("dbname") ? "dbname = not_this_one" : $0 }.joined(separator: "\n")
                file = dir.appendingPathComponent(name + "-only-uri.cf").path
                try text.write(toFile: file, atomically: true, encoding: .utf8)
            }
            let mine = try MDAD.run(["postmap", "-c", etc, "-q", "-", "pgsql:" + file], input: Data(stdin.utf8))
            let theirs = try PostgresServer.run(["/usr/sbin/postmap", "-c", etc, "-q", "-", "pgsql:" + file], stdin: stdin)
            let mineLines = mine.stdout.split(separator: "\n").map(String.init)
            let theirLines = theirs.stdout.split(separator: "\n").map(String.init)
            // One comparison per key (its answer line, or its absence) and one for the exit status.
            found += theirLines.count
            for key in Self.keys {
                total += 1
                let m = mineLines.first { $0.hasPrefix(key + "\t") }, t = theirLines.first { $0.hasPrefix(key + "\t") }
                if m == t { agree += 1 } else { differences.append("\(name) \(key): mdad \(m ?? "-") / postfix \(t ?? "-")") }
            }
            total += 1
            if mine.status == theirs.status { agree += 1 } else {
                differences.append("\(name) exit: mdad \(mine.status) \(mine.stderr) / postfix \(theirs.status) \(theirs.stderr)")
            }
            if hosts != nil { #expect(!mineLines.isEmpty, "\(name): \(mine.stderr)") }
        }
        for (name, body) in Self.singleKeyTables {
            let file = try server.tableFile(dir, name + ".cf", body)
            for key in Self.keys {
                let mine = try MDAD.run(["postmap", "-c", etc, "-q", key, "pgsql:" + file], input: Data())
                let theirs = try PostgresServer.run(["/usr/sbin/postmap", "-c", etc, "-q", key, "pgsql:" + file])
                total += 1
                if mine.status == theirs.status && mine.stdout == theirs.stdout { agree += 1 } else {
                    differences.append("\(name) \(key): mdad \(mine.status) \(mine.stdout) / postfix \(theirs.status) \(theirs.stdout)")
                }
            }
        }
        print("pgsql differential against postfix-pgsql: \(agree)/\(total) comparisons agree (\(found) answers found by Postfix); differences: \(differences.isEmpty ? "none" : differences.joined(separator: "; "))")
        #expect(agree == total, "\(differences)")
        #expect(found >= 40, "too few keys found for the comparison to mean much")
        #expect(total == (Self.keys.count + 1) * runs.count + Self.keys.count * Self.singleKeyTables.count)
    }

    @Test func severalRowsNullsAndFolding() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Self.open(try server.tableFile(dir, "t.cf", Self.tables["plain"]!))
        #expect(try t.lookup("team@example.com") == "alice@example.com,bob@example.org")
        #expect(try t.lookup("Team@EXAMPLE.com") == "alice@example.com,bob@example.org")
        #expect(try t.lookup("null@example.com") == nil)
        #expect(try t.lookup("empty@example.com") == nil)
        #expect(try t.lookup("nobody@example.com") == nil)
        #expect(try t.lookup("") == nil)
        // Through a TableList, as virtual_alias_maps uses it: user@domain, then @domain.
        let list = TableList([t])
        #expect(try list.lookupAddress("someone@example.net") == "catchall@example.net")
    }

    @Test func keysNeverBecomeSQL() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try Self.open(try server.tableFile(dir, "plain.cf", Self.tables["plain"]!))
        // Postfix would splice an unquoted %s into the SQL; mdad binds it like any other.
        let unquoted = try Self.open(try server.tableFile(dir, "unquoted.cf", "query = SELECT goto FROM aliases WHERE alias = %s ORDER BY rank"))
        let before = try server.psql("SELECT count(*) FROM aliases")
        for key in ["x' OR '1'='1", "x' OR 1=1 --", "'; DROP TABLE aliases; --", "\\'; DELETE FROM aliases; --",
                    "x\\' OR alias <> \\'", "$1", "%s", "'", "\\", "x'); DROP TABLE aliases; --"] {
            #expect(try plain.lookup(key) == nil, "\(key)")
            #expect(try unquoted.lookup(key) == nil, "\(key)")
        }
        #expect(try server.psql("SELECT count(*) FROM aliases") == before)
        // Quotes and backslashes in a key that is in the table are found as they are.
        #expect(try plain.lookup("O'Brien\\x@example.com") == "quoted@example.com")
        #expect(try unquoted.lookup("o'brien\\x@example.com") == "quoted@example.com")
    }

    @Test func expansionsAndDomainRestriction() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ud = try Self.open(try server.tableFile(dir, "ud.cf", Self.tables["userdomain"]!))
        #expect(try ud.lookup("alice@example.com") == "example.com/alice/")
        #expect(try ud.lookup("carol@sub.example.com") == "sub.example.com/carol/")
        #expect(try ud.lookup("alice") == nil)   // %d: no domain, no query
        let labels = try Self.open(try server.tableFile(dir, "labels.cf", Self.tables["labels"]!))
        #expect(try labels.lookup("alice@mail.example.com") == "example.com/alice/")
        #expect(try labels.lookup("alice@com") == nil)
        let domain = try Self.open(try server.tableFile(dir, "domain.cf", Self.tables["domain"]!))
        #expect(try domain.lookup("postmaster@example.com") == "root@example.com")
        #expect(try domain.lookup("local") == nil)           // in the table, but unqualified
        #expect(try domain.lookup("@example.net") == nil)    // in the table, but no local part
        #expect(try domain.lookup("alice@sub.example.com") == nil)   // a subdomain is not on the list
        let format = try Self.open(try server.tableFile(dir, "format.cf", Self.tables["format"]!))
        #expect(try format.lookup("Postmaster@example.com")
                == "smtp:[example.com] root for postmaster at example.com (postmaster@example.com) 100%")
        let limit = try Self.open(try server.tableFile(dir, "limit.cf", Self.singleKeyTables["limit"]!))
        #expect(try limit.lookup("postmaster@example.com") == "root@example.com")
        #expect(throws: TableError.self) { try limit.lookup("team@example.com") }
    }

    @Test func reusesOneConnectionAndReconnectsAfterItDies() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Self.open(try server.tableFile(dir, "pid.cf", "query = SELECT pg_backend_pid() WHERE '%s' <> ''"))
        let first = try #require(try t.lookup("a"))
        #expect(try t.lookup("b") == first)
        try server.psql("SELECT pg_terminate_backend(\(first))")
        usleep(200_000)
        let start = Date()
        let second = try #require(try t.lookup("c"))
        #expect(Date().timeIntervalSince(start) < 5, "the reconnect waited for a timeout")
        #expect(second != first)
        // Many threads at once share it.
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [String?] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let v = try? t.lookup("k\(i)")
            results.lock.withLock { results.values.append(v) }
        }
        #expect(results.values.count == 64 && results.values.allSatisfy { $0 == second })
        // A burst on a table that has no connection yet: every lookup is answered.
        let fresh = try Self.open(try server.tableFile(dir, "fresh.cf", Self.tables["plain"]!))
        let burst = Results()
        DispatchQueue.concurrentPerform(iterations: 32) { _ in
            let v = try? fresh.lookup("postmaster@example.com")
            burst.lock.withLock { burst.values.append(v) }
        }
        #expect(burst.values.count == 32 && burst.values.allSatisfy { $0 == "root@example.com" }, "\(burst.values)")
    }

    @Test func serverDownOrFailingIsAnErrorNeverNotFound() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let closed = try freeLoopbackPort()
        let down = try Self.open(try server.tableFile(dir, "down.cf", Self.tables["plain"]!, hosts: "127.0.0.1:\(closed)"))
        let e = #expect(throws: TableError.self) { try down.lookup("postmaster@example.com") }
        #expect(e.map { "\($0)".contains("127.0.0.1:\(closed)") && "\($0)".contains("pgsql:") } == true, "\(String(describing: e))")
        // Fail-over: the dead host is skipped, the live one answers.
        let both = try Self.open(try server.tableFile(dir, "both.cf", Self.tables["plain"]!,
                                                      hosts: "127.0.0.1:\(closed), inet:127.0.0.1:\(server.port)"))
        for _ in 0..<3 { #expect(try both.lookup("postmaster@example.com") == "root@example.com") }
        // The UNIX socket (trust auth there).
        let unix = try Self.open(try server.tableFile(dir, "unix.cf", Self.tables["plain"]!, hosts: "unix:" + server.socketFile))
        #expect(try unix.lookup("postmaster@example.com") == "root@example.com")
        // A query the server rejects.
        let bad = try Self.open(try server.tableFile(dir, "bad.cf", "query = SELECT goto FROM no_such_table WHERE alias = '%s'"))
        let b = #expect(throws: TableError.self) { try bad.lookup("x") }
        #expect(b.map { "\($0)".contains("no_such_table") } == true, "\(String(describing: b))")
        // A wrong password.
        let path = try server.tableFile(dir, "pw.cf", Self.tables["plain"]!)
        try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: PostgresServer.password, with: "wrong")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TableError.self) { try Self.open(path).lookup("postmaster@example.com") }
        // A query that outlasts query_timeout.
        let slow = try Self.open(try server.tableFile(dir, "slow.cf", "query = SELECT pg_sleep(5)::text || '%s'\nquery_timeout = 1"))
        let start = Date()
        let s = #expect(throws: TableError.self) { try slow.lookup("x") }
        #expect(s.map { "\($0)".contains("timed out") } == true, "\(String(describing: s))")
        #expect(Date().timeIntervalSince(start) < 4)
    }

    @Test func tlsAsLibpqSslmode() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let etc = dir.appendingPathComponent("etc").path
        let db = PostgresServer.database, pw = "s3cret%20pw"
        func uri(_ host: String, _ query: String) -> String { "postgresql://tlsonly:\(pw)@\(host):\(server.port)/\(db)?\(query)" }
        // (name, hosts, whether it must answer); `tlsonly` is refused without TLS.
        let cases: [(String, String, Bool)] = [
            ("prefer", uri("127.0.0.1", "sslmode=prefer"), true),
            ("require", uri("127.0.0.1", "sslmode=require"), true),
            ("disable", uri("127.0.0.1", "sslmode=disable"), false),
            ("verifyfull", uri("localhost", "sslmode=verify-full&sslrootcert=\(server.certificate)"), true),
            ("verifyca", uri("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(server.certificate)"), true),
            ("wrongname", uri("127.0.0.1", "sslmode=verify-full&sslrootcert=\(server.certificate)"), false),
            ("untrusted", uri("localhost", "sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt"), false),
        ]
        var agree = 0
        var differences: [String] = []
        for (name, hosts, answers) in cases {
            let file = try server.tableFile(dir, name + ".cf", Self.tables["plain"]!, hosts: hosts)
            let t = try Self.open(file)
            if answers {
                #expect(try t.lookup("postmaster@example.com") == "root@example.com", "\(name)")
            } else {
                #expect(throws: TableError.self, "\(name)") { try t.lookup("postmaster@example.com") }
            }
            // Postfix's libpq, given the same file.
            let p = try PostgresServer.run(["/usr/sbin/postmap", "-c", etc, "-q", "postmaster@example.com", "pgsql:" + file])
            if (p.status == 0) == answers { agree += 1 } else { differences.append("\(name): postfix \(p.status) \(p.stderr)") }
        }
        print("pgsql TLS against postfix-pgsql: \(agree)/\(cases.count) sslmode cases agree; differences: \(differences.isEmpty ? "none" : differences.joined(separator: "; "))")
        #expect(agree == cases.count)
        // A host that is not a URI prefers TLS, as libpq does.
        let plainHost = try server.tableFile(dir, "plainhost.cf", Self.tables["plain"]!)
        let text = try String(contentsOfFile: plainHost, encoding: .utf8).replacingOccurrences(of: "user = mdad", with: "user = tlsonly")
        try text.write(toFile: plainHost, atomically: true, encoding: .utf8)
        #expect(try Self.open(plainHost).lookup("postmaster@example.com") == "root@example.com")
    }

    @Test func configurationErrorsNameTheFile() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        PgsqlTableType.register()
        let cases = [
            ("nodb.cf", "hosts = 127.0.0.1\nquery = SELECT 1 WHERE '%s' = ''\n", "dbname"),
            ("noquery.cf", "hosts = 127.0.0.1\ndbname = x\n", "query"),
            ("badexp.cf", "dbname = x\nquery = SELECT a FROM t WHERE k = '%x'\n", "%x"),
            ("badport.cf", "dbname = x\nhosts = db:99999\nquery = SELECT 1\n", "port"),
            ("quote.cf", "dbname = x\nquery = SELECT a FROM t WHERE k = '%s\n", "quote"),
            ("tls.cf", "hosts = postgresql://db/x?sslmode=sometimes\nquery = SELECT 1\n", "sslmode"),
            ("root.cf", "hosts = postgresql://db/x?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt\nquery = SELECT 1\n", "TLS"),
            ("uriport.cf", "hosts = postgresql://db:0/x\nquery = SELECT 1\n", "port"),
            ("ident.cf", "dbname = x\nquery = SELECT \"%s\" FROM t\n", "identifier"),
        ]
        for (name, text, word) in cases {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let e = #expect(throws: ConfigError.self) { try Self.open(path) }
            #expect(e.map { "\($0)".contains(path) && "\($0)".contains(word) } == true, "\(name): \(String(describing: e))")
        }
    }

    @Test func postmapQueryAndBuildAsPostfix() throws {
        let server = try Self.server()
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let etc = dir.appendingPathComponent("etc").path
        let file = try server.tableFile(dir, "t.cf", Self.tables["plain"]!)
        let found = try MDAD.run(["postmap", "-c", etc, "-q", "Team@example.com", "pgsql:" + file], input: Data())
        #expect(found.status == 0 && found.stdout == "alice@example.com,bob@example.org\n", "\(found.stderr)")
        let missing = try MDAD.run(["postmap", "-c", etc, "-q", "nobody@example.com", "pgsql:" + file], input: Data())
        #expect(missing.status == 1 && missing.stdout.isEmpty)
        // Building is not possible, with Postfix's words.
        let mine = try MDAD.run(["postmap", "-c", etc, "pgsql:" + file], input: Data())
        let theirs = try PostgresServer.run(["/usr/sbin/postmap", "-c", etc, "pgsql:" + file])
        #expect(mine.status == theirs.status)
        #expect(mine.stderr == theirs.stderr, "mdad: \(mine.stderr) postfix: \(theirs.stderr)")
        // A server that is down: fatal, exit 1, as postmap.
        let down = try server.tableFile(dir, "down.cf", Self.tables["plain"]!, hosts: "127.0.0.1:\(try freeLoopbackPort())")
        let m = try MDAD.run(["postmap", "-c", etc, "-q", "x@example.com", "pgsql:" + down], input: Data())
        let p = try PostgresServer.run(["/usr/sbin/postmap", "-c", etc, "-q", "x@example.com", "pgsql:" + down])
        #expect(m.status == p.status && m.status == 1)
        #expect(m.stderr.hasPrefix("postmap: fatal: table pgsql:\(down): query error: "), "\(m.stderr)")
    }
}

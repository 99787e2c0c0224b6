import Foundation
import Testing

extension PgsqlTests {
    /// `mdad deliver` with virtual(8)-style maps in PostgreSQL: the mailbox path and the UID
    /// come from the database; with the database down the message is deferred (75, 4.3.0),
    /// never bounced.
    @Suite("pgsql virtual mailboxes, end to end", .serialized)
    struct Deliver {
        @Test func deliversThroughPgsqlMapsAndDefersWhenTheServerIsDown() throws {
            guard getuid() == 0 else { Issue.record("needs root to write as uid 5001"); return }
            let server = try PgsqlTests.server()
            let dir = try PgsqlTests.directory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let vmail = dir.appendingPathComponent("vmail")
            try FileManager.default.createDirectory(at: vmail, withIntermediateDirectories: true)
            chown(vmail.path, 5001, 5001)
            let maps = try server.tableFile(dir, "mailboxes.cf",
                                            "query = SELECT maildir FROM mailboxes WHERE username = '%u' AND domain = '%d'")
            let uids = try server.tableFile(dir, "uids.cf",
                                            "query = SELECT uid FROM mailboxes WHERE username = '%u' AND domain = '%d'")
            func sandbox(_ mailboxMaps: String) throws -> Sandbox {
                try Sandbox(mainCF: """
                    virtual_mailbox_domains = example.com
                    virtual_mailbox_base = \(vmail.path)
                    virtual_mailbox_maps = pgsql:\(mailboxMaps)
                    virtual_uid_maps = pgsql:\(uids)
                    virtual_gid_maps = static:5001
                    recipient_delimiter = +
                    """)
            }
            let box = try sandbox(maps)
            let r = try box.deliver(["-f", "s@example.org", "-a", "Alice+news@Example.com"],
                                    input: Data("Subject: from postgres\n\nb\n".utf8))
            #expect(r.status == 0, "\(r.stderr)")
            let new = vmail.appendingPathComponent("example.com/alice/new")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: new.path)) ?? []
            #expect(files.count == 1)
            if let f = files.first {
                let attrs = try FileManager.default.attributesOfItem(atPath: new.appendingPathComponent(f).path)
                #expect((attrs[.ownerAccountID] as? NSNumber)?.intValue == 5001)
                #expect(try String(contentsOf: new.appendingPathComponent(f), encoding: .utf8).contains("Subject: from postgres"))
            }
            // Not in the database: unknown user, a bounce (5.1.1).
            let unknown = try box.deliver(["-f", "s@example.org", "-a", "nobody@example.com"], input: Data("Subject: x\n\nb\n".utf8))
            #expect(unknown.status == 67, "\(unknown.stderr)")

            // The database unreachable: a deferral, and the message is not lost.
            let down = try server.tableFile(dir, "down.cf", "query = SELECT maildir FROM mailboxes WHERE username = '%u' AND domain = '%d'",
                                            hosts: "127.0.0.1:\(try freeLoopbackPort())")
            let deferred = try sandbox(down).deliver(["-f", "s@example.org", "-a", "alice@example.com"], input: Data("Subject: x\n\nb\n".utf8))
            #expect(deferred.status == 75, "\(deferred.stderr)")
            #expect(deferred.firstErrorLine.hasPrefix("4.3.0 "), "\(deferred.stderr)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: new.path)) ?? []).count == 1)
        }
    }
}

import Foundation
import Testing

/// Dovecot's quota plugin reads the maildirsize mdad keeps and must see the same usage; after
/// Dovecot recalculates from the messages, the figures must still agree. Then the delivery that
/// would pass the limit gets 4.2.2 and leaves nothing behind.
@Suite("Dovecot agrees with mdad's Maildir++ quota", .serialized, .dovecot)
struct DovecotQuotaTests {
    /// `doveadm quota get`: (storage in KiB, messages).
    static func doveadmQuota(_ dovecot: DovecotInstance, user: String) throws -> (kib: Int, messages: Int) {
        let r = try DovecotInstance.run("/usr/bin/doveadm", ["-c", dovecot.configFile.path, "quota", "get", "-u", user],
                                        errorFile: dovecot.root.appendingPathComponent("doveadm.err"))
        guard r.status == 0 else { throw SkipReason("doveadm quota get failed (\(r.status)): \(r.errors)") }
        var kib = -1, messages = -1
        for line in r.output.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let i = f.firstIndex(of: "STORAGE"), i + 1 < f.count { kib = Int(f[i + 1]) ?? -1 }
            if let i = f.firstIndex(of: "MESSAGE"), i + 1 < f.count { messages = Int(f[i + 1]) ?? -1 }
        }
        return (kib, messages)
    }

    @Test func usageAgreesBeforeAndAfterDovecotRecalculatesAndTheLimitHolds() throws {
        let dovecot = try #require(DovecotInstance.current)
        let home = try dovecot.makeHome()
        let user = try TestUser(home: home)
        try dovecot.allow(user, password: "pw", userdbFields: "userdb_quota_rule=*:storage=12k")
        let box = try Sandbox(mainCF: "quota_maps = inline:{ \(user.name)=12k }\n")
        chmod(box.root.path, 0o755)
        chmod(box.config.path, 0o755)
        let env = ["USER": user.name, "HOME": home]
        let body = String(repeating: "quota line of some length\n", count: 100)   // about 2.6 KiB
        var delivered = 0
        for i in 0..<4 {
            let r = try box.deliver(["-f", "s@example.org", "-a", "\(user.name)@example.org"],
                                    input: Data("Subject: \(i)\n\n\(body)".utf8), prefix: user.prefix, environment: env)
            #expect(r.status == 0, "\(r.stderr)")
            delivered += 1
        }
        let maildirsize = home + "/Maildir/maildirsize"
        let ours = try String(contentsOfFile: maildirsize, encoding: .utf8)
        let lines = ours.split(separator: "\n")
        #expect(lines.first == "12288S")
        let bytes = lines.dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }.reduce(0, +)
        let theirs = try Self.doveadmQuota(dovecot, user: user.name)
        #expect(theirs.messages == delivered)
        // doveadm shows KiB rounded up.
        #expect(theirs.kib == (bytes + 1023) / 1024, "Dovecot reads \(theirs.kib) KiB, mdad counted \(bytes) bytes")

        // Dovecot recounts from the messages (the file is first spoiled, so only its own count
        // can restore it); the usage it finds is what mdad recorded.
        try "12288S\n1 1\n".write(toFile: maildirsize, atomically: false, encoding: .utf8)
        let recalc = try DovecotInstance.run("/usr/bin/doveadm", ["-c", dovecot.configFile.path, "quota", "recalc", "-u", user.name])
        #expect(recalc.status == 0, "\(recalc.errors)")
        let again = try Self.doveadmQuota(dovecot, user: user.name)
        #expect(again.messages == delivered && again.kib == (bytes + 1023) / 1024, "after recalc: \(again)")
        // Dovecot rewrote maildirsize from its own count: byte for byte the same sum.
        let rewritten = try String(contentsOfFile: maildirsize, encoding: .utf8).split(separator: "\n")
        let dovecotBytes = rewritten.dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }.reduce(0, +)
        #expect(dovecotBytes == bytes, "Dovecot's maildirsize: \(rewritten)")
        #expect(rewritten.first == "12288S")

        // A fifth message would pass 12 KiB: deferred with 4.2.2, nothing stored.
        let before = (try? FileManager.default.contentsOfDirectory(atPath: home + "/Maildir/new").count) ?? 0
        let r = try box.deliver(["-f", "s@example.org", "-a", "\(user.name)@example.org"],
                                input: Data("Subject: over\n\n\(body)".utf8), prefix: user.prefix, environment: env)
        #expect(r.status == 75)
        #expect(r.stderr.hasPrefix("4.2.2"), "\(r.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: home + "/Maildir/new").count) ?? 0) == before)
    }
}

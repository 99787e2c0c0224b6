import Foundation
import Testing

/// `mdad rules convert`: for every rc of the differential corpus that converts without a
/// recipe left out, the Sieve script, run by Pigeonhole's sieve-test, files each message where
/// procmail itself does (folders, forwards, discards, the implicit keep for DEFAULT).
@Suite(.serialized)
struct ProcmailConvertTests {
    static let sieveTest = "/usr/bin/sieve-test"

    @Test func convertedScriptsFileLikeProcmail() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.sieveTest),
              FileManager.default.isExecutableFile(atPath: ProcmailDifferentialTests.procmail) else {
            Issue.record("sieve-test (dovecot-sieve) and procmail are needed"); return
        }
        // Its own sandbox path: the differential suite may run at the same time.
        let sb = "/tmp/mdad-procmail-convert-sandbox"
        let work = "/tmp/mdad-procmail-convert"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o777)
        defer { try? FileManager.default.removeItem(atPath: work) }
        var converted = 0, total = 0, same = 0
        var differences: [String] = []
        for (rcName, rcText, args) in ProcmailCorpus.rcs where args.isEmpty {
            let rcPath = work + "/\(rcName).rc"
            try rcText.replacingOccurrences(of: "@SB@", with: sb).write(toFile: rcPath, atomically: true, encoding: .utf8)
            let conversion = try MDAD.run(["rules", "convert", rcPath], input: Data())
            #expect(conversion.status == 0)
            guard conversion.stderr.isEmpty else { continue }   // some recipe was left out
            converted += 1
            let script = work + "/\(rcName).sieve"
            try conversion.stdout.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o666)
            for (msgName, message) in ProcmailCorpus.messages {
                let theirs = try ProcmailDifferentialTests.run(program: [ProcmailDifferentialTests.procmail],
                                                               rc: rcText, args: [], message: message, sandbox: sb)
                guard theirs.exitCode == 0 else { continue }   // a bounce has no Sieve counterpart
                total += 1
                let msgPath = work + "/\(msgName).eml"
                try message.write(toFile: msgPath, atomically: true, encoding: .utf8)
                chmod(msgPath, 0o644)
                let r = try MDAD.run([script, msgPath], input: Data(), environment: ["HOME": work],
                                     prefix: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
                                     program: Self.sieveTest)
                let sieve = Self.sieveOutcome(r.stdout)
                let procmail = Self.procmailOutcome(theirs, sandbox: sb)
                if sieve == procmail { same += 1 } else {
                    differences.append("DIFFERENCE \(rcName) × \(msgName): procmail \(procmail.sorted()), sieve \(sieve.sorted())\n\(r.stdout)\(r.stderr)")
                }
            }
        }
        print("procmail → Sieve: \(converted) rc files converted whole; \(same)/\(total) message outcomes agree with procmail")
        for d in differences { print(d) }
        #expect(converted >= 5)
        #expect(total > 0 && same == total)
    }

    /// What procmail did, as Sieve would say it: "fileinto NAME", "keep", "redirect ADDR".
    static func procmailOutcome(_ o: ProcmailDifferentialTests.Outcome, sandbox: String) -> Set<String> {
        var out: Set<String> = []
        for key in o.files.keys where key.hasPrefix("mail/") && !key.hasSuffix("/") {
            var parts = key.dropFirst(5).split(separator: "/").map(String.init)
            if parts.count >= 2, parts[parts.count - 1].hasPrefix("#") { parts.removeLast(2) }       // Maildir new/#n
            else if parts.count >= 2, Int(parts[parts.count - 1]) != nil { parts.removeLast() }        // MH number
            let name = parts.joined(separator: "/")
            out.insert(name == "inbox" ? "keep" : "fileinto \(name)")
        }
        for line in (o.files["record.log"] ?? "").split(separator: "\n") where line.hasPrefix("ARGS: -oi ") {
            for a in line.dropFirst(10).split(separator: " ") { out.insert("redirect \(a)") }
        }
        return out
    }

    static func sieveOutcome(_ text: String) -> Set<String> {
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("* store message in folder: ") {
                let f = String(l.dropFirst("* store message in folder: ".count))
                out.insert(f == "INBOX" ? "keep" : "fileinto \(f)")
            } else if l.hasPrefix("* redirect message to: ") {
                out.insert("redirect " + l.dropFirst("* redirect message to: ".count).trimmingCharacters(in: CharacterSet(charactersIn: "<>")))
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Junk-folder feedback for plain Maildirs: what the user moved into `.Junk` is learned as
/// spam, what they moved out of it into another folder as ham, once each. The watcher polls;
/// it remembers each message by its Maildir base name (the part before `:2,`, which moving
/// and flag changes keep) in the store's `feedback` database. A message the spam stage filed
/// into Junk itself (it carries `X-Spam-Flag: YES`) is remembered without learning; moved
/// out, it is learned as ham.
public struct BayesFeedback: Sendable {
    public let bayes: BayesClassifier
    public let junkFolder: String
    /// At most this many messages are learned per pass; the rest wait for the next.
    public var limitPerPass = 500
    public var interval: Double = 10

    public init(bayes: BayesClassifier, junkFolder: String) {
        self.bayes = bayes
        self.junkFolder = junkFolder.hasPrefix(".") ? String(junkFolder.dropFirst()) : junkFolder
    }

    public struct PassResult: Sendable, Equatable {
        public var spam = 0
        public var ham = 0
    }

    /// Marks in the feedback database: learned as spam, learned as ham, filed by the filter.
    static let spamMark = UInt8(ascii: "s"), hamMark = UInt8(ascii: "h"), filedMark = UInt8(ascii: "f")

    /// One pass over a Maildir (its INBOX and every `.Folder`).
    public func pass(_ maildir: String) throws -> PassResult {
        var result = PassResult()
        var budget = limitPerPass
        let junk = maildir + "/." + junkFolder
        for (file, key) in Self.files(in: junk) where budget > 0 {
            let mark = try bayes.store.read { try $0.feedback(key) }
            guard mark == nil || mark == Self.hamMark else { continue }
            guard let (tokens, id, flagged) = load(file) else { continue }
            if mark == nil, flagged {
                try bayes.store.write { try $0.setFeedback(key, Self.filedMark) }
                continue
            }
            try bayes.store.write { t in
                _ = try bayes.learn(tokens, id: id, isSpam: true, time: BayesClassifier.now(), t)
                try t.setFeedback(key, Self.spamMark)
            }
            result.spam += 1
            budget -= 1
        }
        var others = [maildir]
        for name in (Posix.directoryEntries(maildir) ?? []).sorted() where name.hasPrefix(".") && name != "." && name != ".." && name != "." + junkFolder {
            if Posix.isDirectory(maildir + "/" + name + "/cur") || Posix.isDirectory(maildir + "/" + name + "/new") { others.append(maildir + "/" + name) }
        }
        for folder in others {
            for (file, key) in Self.files(in: folder) where budget > 0 {
                let mark = try bayes.store.read { try $0.feedback(key) }
                guard mark == Self.spamMark || mark == Self.filedMark else { continue }
                guard let (tokens, id, _) = load(file) else { continue }
                try bayes.store.write { t in
                    _ = try bayes.learn(tokens, id: id, isSpam: false, time: BayesClassifier.now(), t)
                    try t.setFeedback(key, Self.hamMark)
                }
                result.ham += 1
                budget -= 1
            }
        }
        return result
    }

    func load(_ file: String) -> (Set<[UInt8]>, String, Bool)? {
        guard let bytes = try? Posix.readFile(file, limit: BayesLearnCommand.maxMessageSize),
              let message = try? Message.parse(Spool(bytes: bytes)),
              let m = try? SpamMessage(message, envelopeFrom: nil) else { return nil }
        let flagged = m.fields.contains { $0.key == "x-spam-flag" && String(decoding: $0.decoded, as: UTF8.self).uppercased().hasPrefix("YES") }
        return (bayes.settings.tokenizer.tokens(m), BayesClassifier.messageID(m), flagged)
    }

    /// (path, key) of every message in a Maildir folder's cur/ and new/.
    static func files(in folder: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for sub in ["new", "cur"] {
            let dir = folder + "/" + sub
            for name in (Posix.directoryEntries(dir) ?? []).sorted() where !name.hasPrefix(".") {
                let base = name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
                out.append((dir + "/" + name, "maildir:" + base))
            }
        }
        return out
    }

    /// `mdad spam learn --watch MAILDIR… [--once]`: passes every `interval` seconds.
    func runFromCommandLine(_ maildirs: [String], once: Bool) -> Int32 {
        while true {
            for d in maildirs {
                do {
                    let r = try pass(d)
                    if r.spam + r.ham > 0 || once { print("\(d): learned \(r.spam) spam, \(r.ham) ham") }
                } catch {
                    FileHandleStandardError.write("mdad spam learn --watch: \(d): \(error)\n")
                    if once { return 1 }
                }
            }
            if once { return 0 }
            usleep(UInt32(interval * 1_000_000))
        }
    }
}

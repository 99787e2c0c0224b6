#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// `mdad spam learn --spam|--ham [--forget] PATH…` (files, Maildirs, mbox files) and
/// `mdad spam learn --watch MAILDIR…`, like sa-learn.
public enum BayesLearnCommand {
    /// One message read from a path: where it came from (for errors) and its bytes.
    struct Item {
        let origin: String
        let bytes: [UInt8]
    }

    public struct Summary: Sendable, Equatable {
        public var learned = 0
        public var known = 0
        public var errors = 0
    }

    static let maxMessageSize = 64 << 20

    /// Runs the verb; returns the exit status.
    static func run(_ args: [String], config: Configuration, settings: BayesSettings, dbPath: String?) -> Int32 {
        var isSpam: Bool?
        var forget = false
        var watch = false
        var once = false
        var paths: [String] = []
        for a in args {
            switch a {
            case "--spam": isSpam = true
            case "--ham": isSpam = false
            case "--forget": forget = true
            case "--watch": watch = true
            case "--once": once = true
            default:
                if a.hasPrefix("-") { return SpamCommand.usage("unknown option \(a)") }
                paths.append(a)
            }
        }
        let store: BayesStore
        do {
            let path = try dbPath ?? config.string("spam_bayes_path")
            store = try BayesStore.open(directory: path)
        } catch {
            return SpamCommand.fail("\(error)")
        }
        let bayes = BayesClassifier(store: store, settings: settings)
        if watch {
            guard !paths.isEmpty else { return SpamCommand.usage("spam learn --watch needs a Maildir") }
            let folder = ((try? config.string("spam_folder")) ?? "").trimmingWhitespace()
            let watcher = BayesFeedback(bayes: bayes, junkFolder: folder.isEmpty ? "Junk" : folder)
            return watcher.runFromCommandLine(paths, once: once)
        }
        guard let isSpam else { return SpamCommand.usage("spam learn needs --spam or --ham") }
        guard !paths.isEmpty else { return SpamCommand.usage("spam learn needs at least one file, Maildir or mbox") }
        let start = Subprocess.monotonicSeconds()
        let progress = isatty(2) != 0
        var total = 0
        let summary = learn(paths: paths, isSpam: isSpam, forget: forget, bayes: bayes) { done, count in
            total = count
            guard progress else { return }
            let width = 30
            let filled = count == 0 ? width : done * width / count
            FileHandleStandardError.write("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(count)")
        }
        if progress, total > 0 { FileHandleStandardError.write("\n") }
        let seconds = Subprocess.monotonicSeconds() - start
        let time = String(Double(Int(seconds * 100)) / 100)
        if forget {
            print("forgot \(summary.learned) message(s) (\(summary.known) not learned) in \(time) s")
        } else {
            print("learned from \(summary.learned) message(s) (\(summary.known) already known) in \(time) s")
        }
        return summary.errors == 0 ? 0 : 1
    }

    /// Learns (or forgets) every message under `paths`; `progress(done, total)` after each.
    public static func learn(paths: [String], isSpam: Bool, forget: Bool, bayes: BayesClassifier,
                             progress: (Int, Int) -> Void = { _, _ in }) -> Summary {
        var summary = Summary()
        var files: [String] = []
        for p in paths { files += messageFiles(p, errors: &summary.errors) }
        var done = 0
        var batch: [(Set<[UInt8]>, String)] = []
        func flush() {
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try bayes.store.write { t in
                    try batch.map { tokens, id in
                        forget ? try bayes.forget(tokens, id: id, t) : try bayes.learn(tokens, id: id, isSpam: isSpam, time: BayesClassifier.now(), t)
                    }
                }
                for o in outcomes {
                    if o == .learned || o == .forgotten { summary.learned += 1 } else { summary.known += 1 }
                }
            } catch {
                FileHandleStandardError.write("mdad spam learn: \(bayes.store.path): \(error)\n")
                summary.errors += batch.count
            }
            batch.removeAll()
        }
        for file in files {
            let items: [Item]
            do { items = try messages(in: file) } catch {
                FileHandleStandardError.write("mdad spam learn: \(file): \(error)\n")
                summary.errors += 1
                continue
            }
            for item in items {
                do {
                    let m = try SpamMessage(Message.parse(Spool(bytes: item.bytes)), envelopeFrom: nil)
                    batch.append((bayes.settings.tokenizer.tokens(m), BayesClassifier.messageID(m)))
                } catch {
                    FileHandleStandardError.write("mdad spam learn: \(item.origin): \(error)\n")
                    summary.errors += 1
                }
                // One write transaction per few hundred messages: readers keep going meanwhile.
                if batch.count >= 250 { flush() }
            }
            done += 1
            progress(done, files.count)
        }
        flush()
        return summary
    }

    /// The files under a path: a Maildir's cur/ and new/, a directory's regular files, or the
    /// file itself.
    static func messageFiles(_ path: String, errors: inout Int) -> [String] {
        guard Posix.isDirectory(path) else {
            if Posix.exists(path) { return [path] }
            FileHandleStandardError.write("mdad spam learn: \(path): no such file or directory\n")
            errors += 1
            return []
        }
        var out: [String] = []
        let sub = ["cur", "new"].map { path + "/" + $0 }.filter(Posix.isDirectory)
        for dir in sub.isEmpty ? [path] : sub {
            for name in (Posix.directoryEntries(dir) ?? []).sorted() where !name.hasPrefix(".") {
                let p = dir + "/" + name
                if !Posix.isDirectory(p) { out.append(p) }
            }
        }
        return out
    }

    /// The messages in one file: an mbox (it starts with "From ") split at its From_ lines,
    /// `>From ` unquoted; any other file is one message.
    static func messages(in file: String) throws -> [Item] {
        let bytes = try Posix.readFile(file, limit: maxMessageSize)
        guard bytes.starts(with: Array("From ".utf8)) else { return [Item(origin: file, bytes: bytes)] }
        var items: [Item] = []
        var current: [UInt8] = []
        var lineNumber = 0, startLine = 1
        var previousBlank = true
        var i = 0
        while i < bytes.count {
            let end = bytes[i...].firstIndex(of: 10).map { $0 + 1 } ?? bytes.count
            let line = bytes[i..<end]
            lineNumber += 1
            if previousBlank, line.starts(with: Array("From ".utf8)) {
                if !current.isEmpty { items.append(Item(origin: "\(file): message at line \(startLine)", bytes: current)) }
                current = []
                startLine = lineNumber
            } else {
                // mboxrd: one '>' comes off a quoted ">…From " line.
                var q = line.startIndex
                while q < line.endIndex, line[q] == UInt8(ascii: ">") { q += 1 }
                if q > line.startIndex, line[q...].starts(with: Array("From ".utf8)) { current += line.dropFirst() } else { current += line }
            }
            previousBlank = line.allSatisfy { $0 == 10 || $0 == 13 }
            i = end
        }
        if !current.isEmpty { items.append(Item(origin: "\(file): message at line \(startLine)", bytes: current)) }
        return items
    }
}


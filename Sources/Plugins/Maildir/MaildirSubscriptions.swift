#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// The `subscriptions` file in the Maildir root, which Dovecot answers IMAP's LSUB and
/// `LIST (SUBSCRIBED)` from. mdad adds each folder it creates, as dovecot-lda does with
/// `lda_mailbox_autosubscribe`, so that IMAP clients (which mostly show subscribed folders
/// only) show mail filed into a new folder.
///
/// The format is the one Dovecot 2.3 writes (checked against Debian 12's dovecot-imapd): a
/// header line `V<TAB>2` and an empty line, then one mailbox per line with its hierarchy
/// levels separated by TAB, each level as IMAP names it (modified UTF-7), so `Lists/work`
/// is `Lists<TAB>work`. A file without the header is the older format, one name per line
/// with the namespace's separator (`Lists.work`); Dovecot keeps a file in the version it
/// found, and so does mdad. Within a level, Dovecot's tab-escaping applies (`\u{1}` followed
/// by `1`, `t`, `r` or `n` for the byte `\u{1}`, TAB, CR or LF), although folder names with
/// control characters are refused before they get here.
///
/// Updates take Dovecot's dotlock on the file (`subscriptions.lock`), write the new content
/// into the lock file and rename it over the file.
enum MaildirSubscriptions {
    static let fileName = "subscriptions"
    static let version2Header: [UInt8] = Array("V\t2\n\n".utf8)
    /// Dovecot's values for this lock: stale after 30 s without change, wait up to 120 s.
    static let lockStaleAfter = 30
    static let lockTimeout = 120.0

    /// A line of a version 2 file for a mailbox's hierarchy levels.
    static func entry(levels: [String]) -> String {
        levels.map(tabEscaped).joined(separator: "\t")
    }

    /// A line of an old (version 1) file: the levels joined by Maildir++'s separator.
    static func legacyEntry(levels: [String]) -> String {
        levels.joined(separator: String(MaildirFolderName.separator))
    }

    static func tabEscaped(_ level: String) -> String {
        var out = ""
        for c in level.unicodeScalars {
            switch c {
            case "\u{1}": out += "\u{1}1"
            case "\t": out += "\u{1}t"
            case "\r": out += "\u{1}r"
            case "\n": out += "\u{1}n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The inverse of ``tabEscaped(_:)``; an unknown escape keeps the escaped character.
    static func tabUnescaped(_ level: String) -> String {
        var out = ""
        var escape = false
        for c in level.unicodeScalars {
            if escape {
                switch c {
                case "1": out += "\u{1}"
                case "t": out += "\t"
                case "r": out += "\r"
                case "n": out += "\n"
                default: out.unicodeScalars.append(c)
                }
                escape = false
            } else if c == "\u{1}" {
                escape = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The lines of a file and whether it is version 2.
    static func parse(_ bytes: [UInt8]) -> (version2: Bool, lines: [String]) {
        var body = bytes[...]
        let v2 = bytes.starts(with: version2Header)
        if v2 { body = bytes[version2Header.count...] }
        let lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            .map { String(decoding: $0, as: UTF8.self) }
        return (v2, lines)
    }

    /// The file's new content with the mailbox added, or nil when it is already there.
    /// A missing file (`nil`) becomes a version 2 file, as Dovecot 2.3 creates it.
    static func adding(levels: [String], to existing: [UInt8]?) -> [UInt8]? {
        guard let existing, !existing.isEmpty else {
            return version2Header + Array((entry(levels: levels) + "\n").utf8)
        }
        let (v2, lines) = parse(existing)
        let line = v2 ? entry(levels: levels) : legacyEntry(levels: levels)
        if lines.contains(line) { return nil }
        var out = existing
        if out.last != UInt8(ascii: "\n") { out.append(UInt8(ascii: "\n")) }
        out += Array((line + "\n").utf8)
        return out
    }

    /// Subscribes the folder with these (encoded) hierarchy levels in the Maildir at `root`.
    /// Returns false when it was subscribed already.
    @discardableResult
    static func subscribe(levels: [String], root: String, lockTimeout: Double = lockTimeout) throws -> Bool {
        let path = root + "/" + fileName
        // Already listed (the common case once a folder exists): no lock needed, since the
        // file is only ever replaced whole.
        if adding(levels: levels, to: try read(path)) == nil { return false }
        let lock = try MaildirDotlock.acquire(for: path, staleAfter: lockStaleAfter, timeout: lockTimeout,
                                              writePID: false)
        let content: [UInt8]?
        do {
            content = adding(levels: levels, to: try read(path))
            if let content { try lock.write(content) }
        } catch {
            lock.release()
            throw error
        }
        guard content != nil else {
            lock.release()
            return false
        }
        try lock.commit()
        return true
    }

    /// The subscribed names, each as its hierarchy levels.
    static func list(root: String) throws -> [[String]] {
        guard let bytes = try read(root + "/" + fileName) else { return [] }
        let (v2, lines) = parse(bytes)
        return lines.map { line in
            if v2 {
                return line.split(separator: "\t", omittingEmptySubsequences: false).map { tabUnescaped(String($0)) }
            }
            return line.split(separator: MaildirFolderName.separator, omittingEmptySubsequences: false).map(String.init)
        }
    }

    static func read(_ path: String) throws -> [UInt8]? {
        do {
            return try Posix.readFile(path, limit: 4 << 20)
        } catch let e as SystemError where e.errno == ENOENT {
            return nil
        }
    }
}

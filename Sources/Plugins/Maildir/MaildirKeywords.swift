#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// IMAP keywords in a Maildir, the way Dovecot stores them.
///
/// The Maildir info part (`:2,FLAGS`) has room for 26 lowercase letters beside the uppercase
/// system flags. Dovecot gives each keyword of a mailbox one of them through the file
/// `dovecot-keywords` in the mailbox directory, one `<index> <keyword>` per line
/// (`0 $Label1` means the letter `a`), and files a message carrying `$Label1` and `\Seen` as
/// `…:2,Sa`. mdad reads and extends the same file, so Dovecot shows the keywords it stored.
///
/// Writing follows Dovecot's protocol. Dovecot changes `dovecot-keywords` only while holding
/// the mailbox's `dovecot-uidlist.lock` (its source says everything in its keyword code
/// "depends on uidlist file being locked"), writes the new content into
/// `dovecot-keywords.lock` and renames that over the file. mdad takes the same uidlist lock
/// first, so neither a concurrent mdad nor Dovecot can assign the same letter twice or lose a
/// keyword. Readers need no lock: the file is only ever replaced by `rename(2)`.
///
/// Keywords compare without regard to case (RFC 3501 section 2.3.2: "A keyword is defined by
/// the server implementation", and Dovecot matches them case-insensitively); a keyword keeps
/// the spelling it was first stored with.
enum MaildirKeywords {
    static let fileName = "dovecot-keywords"
    /// Letters `a` to `z`.
    static let capacity = 26
    /// Dovecot overrides a `dovecot-uidlist.lock` untouched for two minutes, and waits two
    /// seconds longer than that for one.
    static let lockStaleAfter = 120
    static let lockTimeout = 122.0
    /// Longer keywords are refused (IMAP sets no limit; a line of the file must stay small).
    static let maximumLength = 200

    /// An IMAP `flag-keyword` (RFC 3501 section 9: an `atom`): printable ASCII without
    /// `( ) { % * " \ ]` and space. A leading `\` would make it a system flag.
    static func isValid(_ keyword: String) -> Bool {
        guard !keyword.isEmpty, keyword.utf8.count <= maximumLength else { return false }
        return keyword.utf8.allSatisfy { b in
            b > 0x20 && b < 0x7F && !"(){%*\"\\]".utf8.contains(b)
        }
    }

    /// The table in a `dovecot-keywords` file: index → keyword. Lines that are not
    /// `<index 0–25> <keyword>` are skipped, as Dovecot skips them.
    static func parse(_ bytes: [UInt8]) -> [Int: String] {
        var table: [Int: String] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let index = Int(String(decoding: line[line.startIndex..<space], as: UTF8.self)),
                  (0..<capacity).contains(index) else { continue }
            var name = String(decoding: line[line.index(after: space)...], as: UTF8.self)
            if name.hasSuffix("\r") { name.removeLast() }
            guard !name.isEmpty else { continue }
            table[index] = name
        }
        return table
    }

    /// The file's text for a table: lines in index order.
    static func render(_ table: [Int: String]) -> [UInt8] {
        Array(table.keys.sorted().map { "\($0) \(table[$0]!)\n" }.joined().utf8)
    }

    /// What ``assign(_:to:)`` decided.
    struct Assignment: Equatable {
        /// The letters of the keywords that have one.
        var letters: [Character] = []
        /// Keywords that get no letter: invalid ones, and new ones when all 26 are taken
        /// (Dovecot drops them in that case too).
        var dropped: [String] = []
        /// True when `table` gained keywords and must be written.
        var changed = false
    }

    /// Finds or adds each keyword in `table`, new ones at the lowest free index.
    static func assign(_ keywords: [String], to table: inout [Int: String]) -> Assignment {
        var result = Assignment()
        for keyword in keywords {
            guard isValid(keyword) else { result.dropped.append(keyword); continue }
            let wanted = keyword.lowercased()
            if let index = table.first(where: { $0.value.lowercased() == wanted })?.key {
                result.letters.append(letter(index))
            } else if let free = (0..<capacity).first(where: { table[$0] == nil }) {
                table[free] = keyword
                result.letters.append(letter(free))
                result.changed = true
            } else {
                result.dropped.append(keyword)
            }
        }
        return result
    }

    static func letter(_ index: Int) -> Character {
        Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(index)))
    }

    /// The letters for `keywords` in the mailbox directory `dir`, adding the new ones to its
    /// `dovecot-keywords` under the mailbox's uidlist lock.
    ///
    /// - Throws: ``SystemError`` when the file cannot be read or written, or the lock stays
    ///   held (`EAGAIN`); the caller defers the delivery.
    static func letters(for keywords: [String], in dir: String,
                        lockTimeout: Double = lockTimeout, staleAfter: Int = lockStaleAfter) throws -> Assignment {
        guard !keywords.isEmpty else { return Assignment() }
        let path = dir + "/" + fileName
        // Most deliveries use keywords the mailbox already knows: no lock for them.
        var known = try read(path)
        let quick = assign(keywords, to: &known)
        if !quick.changed { return quick }

        let uidlistLock = try MaildirDotlock.acquire(for: dir + "/dovecot-uidlist", staleAfter: staleAfter,
                                                     timeout: lockTimeout, writePID: true)
        let result: Assignment
        do {
            result = try update(path, with: keywords)
        } catch {
            uidlistLock.release()
            throw error
        }
        uidlistLock.release()
        return result
    }

    /// Re-reads the file and writes it back with the new keywords; the uidlist lock is held.
    private static func update(_ path: String, with keywords: [String]) throws -> Assignment {
        var st = stat()
        let oldModification = stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : 0
        var table = try read(path)
        let result = assign(keywords, to: &table)
        guard result.changed else { return result }

        // Under the uidlist lock a leftover dovecot-keywords.lock is stale by definition
        // (Dovecot removes it the same way before writing).
        unlink(path + ".lock")
        let lock = try MaildirDotlock.acquire(for: path, staleAfter: lockStaleAfter, timeout: 0, writePID: false)
        do {
            try lock.write(render(table))
            // Dovecot caches the table until the file's mtime changes, in whole seconds: two
            // changes within one second must still move it forward.
            try lock.setModificationTime(seconds: max(Int(time(nil)), oldModification + 1))
        } catch {
            lock.release()
            throw error
        }
        try lock.commit()
        return result
    }

    static func read(_ path: String) throws -> [Int: String] {
        do {
            return parse(try Posix.readFile(path, limit: 64 << 10))
        } catch let e as SystemError where e.errno == ENOENT {
            return [:]
        }
    }
}

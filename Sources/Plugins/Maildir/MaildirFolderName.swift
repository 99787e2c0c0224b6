import Pipeline

/// A mailbox name that cannot become a Maildir++ folder.
public struct FolderNameError: Error, Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let problem: String
    public var description: String { "invalid folder name \"\(name)\": \(problem)" }
}

/// Maildir++ folder names (Courier's layout, Dovecot's `LAYOUT=maildir++`): the folder
/// `Work.Reports` lives in the directory `.Work.Reports` beside `cur`, `new` and `tmp`, and
/// `INBOX` is the Maildir itself. Non-ASCII names are stored in IMAP's modified UTF-7
/// (RFC 3501 section 5.1.3), as Dovecot stores them.
///
/// Both hierarchy separators a user meets are accepted: Maildir++'s own `.` (`Lists.work`)
/// and `/` (`Lists/work`), which Sieve scripts use (`fileinto "Lists/work"`, Pigeonhole's
/// examples and Dovecot namespaces with `separator = /`). Both name the folder `.Lists.work`.
/// Names are checked before they touch a path: no empty hierarchy level (so no leading,
/// trailing or doubled separator, no `..` and no `.` level), no control characters, at most
/// 255 bytes on disk.
public enum MaildirFolderName {
    /// The hierarchy separator of Maildir++.
    public static let separator: Character = "."
    /// The other separator accepted in names (Sieve's and many IMAP servers').
    public static let alternativeSeparator: Character = "/"

    /// The directory name for a folder, or nil for INBOX.
    public static func directory(for name: String) throws(FolderNameError) -> String? {
        guard let levels = try levels(for: name) else { return nil }
        return "." + levels.joined(separator: String(separator))
    }

    /// The folder's hierarchy levels as IMAP names them (modified UTF-7), or nil for INBOX:
    /// `Lists/work` and `Lists.work` are `["Lists", "work"]`.
    public static func levels(for name: String) throws(FolderNameError) -> [String]? {
        func bad(_ why: String) -> FolderNameError { FolderNameError(name: name, problem: why) }
        if name.isEmpty { throw bad("empty") }
        if name.uppercased() == "INBOX" { return nil }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || ($0.value >= 0x80 && $0.value < 0xA0) }) {
            throw bad("control characters are not allowed")
        }
        let parts = name.split(omittingEmptySubsequences: false) { $0 == separator || $0 == alternativeSeparator }
        if parts.contains(where: \.isEmpty) {
            throw bad("empty hierarchy level (leading, trailing or double '.' or '/')")
        }
        let levels = parts.map { ModifiedUTF7.encode(String($0)) }
        if levels.reduce(1, { $0 + $1.utf8.count + 1 }) - 1 > 255 { throw bad("longer than 255 bytes on disk") }
        return levels
    }
}

/// IMAP's modified UTF-7 (RFC 3501 section 5.1.3): printable ASCII stands for itself, `&` is
/// written `&-`, and other characters are UTF-16 in modified base64 between `&` and `-`.
public enum ModifiedUTF7 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        var pending: [UInt16] = []

        func flush() {
            guard !pending.isEmpty else { return }
            out.append(UInt8(ascii: "&"))
            var bytes: [UInt8] = []
            for unit in pending { bytes.append(UInt8(unit >> 8)); bytes.append(UInt8(unit & 0xFF)) }
            var i = 0
            while i < bytes.count {
                let b0 = bytes[i]
                let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
                let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
                out.append(alphabet[Int(b0 >> 2)])
                out.append(alphabet[Int(((b0 & 0x03) << 4) | (b1 >> 4))])
                if i + 1 < bytes.count { out.append(alphabet[Int(((b1 & 0x0F) << 2) | (b2 >> 6))]) }
                if i + 2 < bytes.count { out.append(alphabet[Int(b2 & 0x3F)]) }
                i += 3
            }
            out.append(UInt8(ascii: "-"))
            pending = []
        }

        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                if scalar == "&" {
                    out.append(contentsOf: Array("&-".utf8))
                } else {
                    out.append(UInt8(scalar.value))
                }
            } else {
                pending.append(contentsOf: Array(String(scalar).utf16))
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }
}

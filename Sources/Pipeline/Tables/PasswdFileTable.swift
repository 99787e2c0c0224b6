/// `passwd-file:/path`: Dovecot's passwd-file, so one user list serves Dovecot and mdad.
///
/// Each line is `user:password:uid:gid:gecos:home:shell:extra fields` (Dovecot's
/// passwd-file(5) layout; `#` comments and empty lines ignored). The key is the user field,
/// compared without case (usually a full address). What a lookup answers depends on the
/// parameter asking — the same file serves all three virtual maps:
/// - `virtual_mailbox_maps`: the Maildir, from an extra field `userdb_mail=maildir:PATH`
///   (`~` is the home), else `HOME/Maildir/`;
/// - `virtual_uid_maps` and `virtual_gid_maps`: the uid and gid fields.
/// A plain lookup (`mdad postmap -q`) answers the mailbox. The file is read when the table is
/// opened (at start-up and on reload), as texthash tables are.
public struct PasswdFileTable: TableWithWarnings {
    public struct Entry: Sendable, Equatable {
        public var uid: String
        public var gid: String
        public var home: String
        public var mail: String?
    }

    public let name: String
    let entries: [String: Entry]
    /// Lines that could not be read (file, line and what was expected).
    public let warnings: [ConfigError]

    public init(path: String, name: String) throws(ConfigError) {
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path, limit: 64 << 20)
        } catch {
            throw ConfigError(file: path, "\(name): cannot open table: \(error)")
        }
        self.init(text: String(decoding: bytes, as: UTF8.self), file: path, name: name)
    }

    public init(text: String, file: String, name: String) {
        self.name = name
        var entries: [String: Entry] = [:]
        var warnings: [ConfigError] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.trimmingWhitespace().isEmpty || line.trimmingWhitespace().hasPrefix("#") { continue }
            let f = line.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 6, !f[0].isEmpty else {
                warnings.append(ConfigError(file: file, line: n + 1, "expected user:password:uid:gid:gecos:home[:shell[:extra fields]]"))
                continue
            }
            var mail: String?
            if f.count == 8 {
                for field in f[7].split(separator: " ") {
                    for prefix in ["userdb_mail=", "mail="] where field.hasPrefix(prefix) {
                        mail = String(field.dropFirst(prefix.count))
                    }
                }
            }
            let key = f[0].lowercased()
            if entries[key] != nil {
                warnings.append(ConfigError(file: file, line: n + 1, "duplicate user \(f[0]); the first entry is used"))
                continue
            }
            entries[key] = Entry(uid: f[2], gid: f[3], home: f[5], mail: mail)
        }
        self.entries = entries
        self.warnings = warnings
    }

    public func lookup(_ key: String) throws(TableError) -> String? {
        try lookup(key, field: .value)
    }

    public func lookup(_ key: String, field: TableField) throws(TableError) -> String? {
        guard let e = entries[key.lowercased()] else { return nil }
        switch field {
        case .uid: return e.uid.isEmpty ? nil : e.uid
        case .gid: return e.gid.isEmpty ? nil : e.gid
        case .value: return mailbox(e)
        }
    }

    /// `maildir:PATH` (options after `:` dropped, `~` the home) as a Maildir path with a
    /// trailing `/`; an mbox location stays a file; nothing: `HOME/Maildir/`.
    func mailbox(_ e: Entry) -> String? {
        let home = e.home.hasSuffix("/") ? String(e.home.dropLast()) : e.home
        guard let mail = e.mail else { return home.isEmpty ? nil : home + "/Maildir/" }
        var kind = "maildir", location = mail
        if let colon = mail.firstIndex(of: ":") {
            kind = String(mail[..<colon]).lowercased()
            location = String(mail[mail.index(after: colon)...])
        }
        if let colon = location.firstIndex(of: ":") { location = String(location[..<colon]) }
        if location.hasPrefix("~") { location = home + location.dropFirst() }
        if kind == "maildir" && !location.hasSuffix("/") { location += "/" }
        return location
    }
}

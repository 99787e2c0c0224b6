/// The type of a configuration parameter; it decides how the value is validated.
public enum ParameterKind: Sendable, Equatable {
    case string
    /// Split on commas and whitespace.
    case list
    case integer
    /// A byte count (Postfix writes these as plain integers: `message_size_limit = 10240000`).
    case size
    /// `yes` or `no`.
    case boolean
    /// A time interval as Postfix writes it: a number with an optional unit, s (the default),
    /// m, h, d or w (`command_time_limit = 1000s`, `maximal_queue_lifetime = 5d`).
    case time
}

/// Facts about the machine that some defaults depend on (as Postfix computes `myhostname`).
public struct SystemInfo: Sendable, Equatable {
    public var hostName: String

    public init(hostName: String) { self.hostName = hostName }

    public static func current() -> SystemInfo { SystemInfo(hostName: Posix.hostName()) }
}

/// A parameter's default: a literal (which may refer to other parameters as `$name`) or a value
/// computed from the machine, like Postfix's `myhostname`.
public enum ParameterDefault: Sendable {
    case literal(String)
    case computed(@Sendable (SystemInfo) -> String)

    /// A literal with `$name` in it: its value depends on what else is set.
    public var refersToParameters: Bool {
        if case .literal(let s) = self { return s.utf8.contains(UInt8(ascii: "$")) }
        return false
    }

    public func value(_ system: SystemInfo) -> String {
        switch self {
        case .literal(let s): return s
        case .computed(let f): return f(system)
        }
    }
}

/// One parameter, declared once: name, type, default and a one-line description.
/// The declaration drives parsing, validation with file and line, and the documentation.
public struct ParameterDeclaration: Sendable {
    public let name: String
    public let kind: ParameterKind
    public let defaultValue: ParameterDefault
    public let doc: String

    public init(_ name: String, _ kind: ParameterKind, default defaultValue: String, _ doc: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = .literal(defaultValue)
        self.doc = doc
    }

    public init(_ name: String, _ kind: ParameterKind, computed: @escaping @Sendable (SystemInfo) -> String, _ doc: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = .computed(computed)
        self.doc = doc
    }
}

/// The set of declared parameters: the core's, plus those each registered stage declares.
public struct ParameterTable: Sendable {
    public private(set) var declarations: [String: ParameterDeclaration] = [:]
    public private(set) var order: [String] = []

    public init(_ declarations: [ParameterDeclaration] = CoreParameters.all, capacity: Int = 0) {
        self.declarations.reserveCapacity(max(capacity, declarations.count))
        order.reserveCapacity(max(capacity, declarations.count))
        for d in declarations { add(d) }
    }

    public mutating func add(_ declaration: ParameterDeclaration) {
        let old = declarations.updateValue(declaration, forKey: declaration.name)
        precondition(old == nil, "parameter \(declaration.name) declared twice")
        order.append(declaration.name)
    }

    public subscript(name: String) -> ParameterDeclaration? { declarations[name] }
}

/// The core parameters. Names and defaults follow Postfix where Postfix has the parameter.
public enum CoreParameters {
    /// Postfix: the host name; when it has no dot, `.localdomain` is appended.
    static func defaultHostName(_ system: SystemInfo) -> String {
        system.hostName.contains(".") ? system.hostName : system.hostName + ".localdomain"
    }

    /// Postfix: `myhostname` without its first component, or `localdomain`.
    static func defaultDomain(_ system: SystemInfo) -> String {
        let host = defaultHostName(system)
        guard let dot = host.firstIndex(of: ".") else { return "localdomain" }
        let rest = host[host.index(after: dot)...]
        return rest.isEmpty ? "localdomain" : String(rest)
    }

    public static let all: [ParameterDeclaration] = [
        .init("myhostname", .string, computed: { defaultHostName($0) },
              "The fully-qualified name of this host; used in the Maildir file name and log lines."),
        .init("mydomain", .string, computed: { defaultDomain($0) },
              "The internet domain of this host; by default $myhostname without its first component."),
        .init("myorigin", .string, default: "$myhostname",
              "The domain that locally-posted mail and unqualified addresses appear to come from."),
        .init("mydestination", .list, default: "$myhostname, localhost.$mydomain, localhost",
              "The domains this host delivers locally."),
        .init("home_mailbox", .string, default: "Maildir/",
              "Mailbox path relative to the user's home; a trailing '/' means Maildir, else mbox; empty means mail_spool_directory."),
        .init("mail_spool_directory", .string, default: "/var/mail",
              "The mbox spool (USER's mailbox is mail_spool_directory/USER) when home_mailbox is empty."),
        .init("message_size_limit", .size, default: "10240000",
              "The largest message accepted, in bytes; larger ones are refused with 5.3.4 (0 means no limit)."),
        .init("header_size_limit", .size, default: "102400",
              "The largest single header field kept as a header, in bytes; past it the rest is treated as body."),
        .init("pipeline", .list, default: "",
              "The stages every message passes through, in order."),
        .init("maillog_file", .string, default: "",
              "File to append log lines to; empty means standard error."),
        .init("maillog_destination", .string, default: "stderr",
              "Where log lines go when maillog_file is empty: stderr, or syslog (as Postfix logs)."),
        .init("syslog_facility", .string, default: "mail",
              "The syslog facility for log lines (mail, daemon, local0 … local7)."),
        .init("syslog_name", .string, default: "mdad",
              "The program name at the start of each log line (mdad/deliver)."),
        .init("quota_maps", .string, default: "",
              "Tables mapping a recipient (address, user or @domain) to its Maildir++ quota: 100M, or storage=1G messages=5000."),
        .init("quota_default", .string, default: "",
              "The quota of a recipient quota_maps does not list; empty means no quota."),
        .init("quota_full_tempfail", .boolean, default: "yes",
              "Over quota: yes answers 452 4.2.2 (the MTA retries), no answers 552 5.2.2 (it bounces)."),
        .init("mailbox_size_limit", .size, default: "51200000",
              "The largest mbox file, and the largest single Maildir message, in bytes (0 means no limit)."),
        .init("sendmail_path", .string, default: "/usr/sbin/sendmail",
              "The program (with arguments) outbound mail is handed to: forwards, redirects, vacation replies. Postfix's sendmail behind Postfix."),
        .init("command_time_limit", .time, default: "1000s",
              "How long a command delivery (|command in aliases, .forward, procmail) may run before it is killed and the delivery deferred."),
        .init("recipient_delimiter", .string, default: "",
              "The characters that separate a user name from an address extension (user+ext)."),
        .init("spool_directory", .string, default: "",
              "Where messages larger than the in-memory limit are spooled; empty means $TMPDIR or /tmp."),
        .init("spool_memory_limit", .size, default: "1048576",
              "Messages up to this size are held in memory while they are processed."),
        .init("alias_database", .list, default: "cdb:/etc/aliases",
              "The alias tables mdad newaliases builds."),
        .init("alias_maps", .list, default: "cdb:/etc/aliases",
              "The alias tables local delivery looks up."),
        .init("default_database_type", .string, default: "cdb",
              "The table type of a table named without type: (postmap, postalias)."),
        .init("pcre_match_limit", .integer, default: "1000000",
              "PCRE2 match limit for every regular expression in tables and rules (backtracking steps)."),
        .init("pcre_depth_limit", .integer, default: "10000",
              "PCRE2 depth limit for every regular expression in tables and rules."),
        .init("maildir_sync", .string, default: "always",
              "How deliveries are made durable: always (fsync file and new/), group (shared syncfs flushes, same promise), none (benchmarks only: not durable)."),
        // The LMTP server (mdad serve).
        .init("lmtp_worker_threads", .integer, default: "32",
              "Threads for blocking delivery work (file writes, fsync), apart from the network threads."),
        .init("lmtp_listen", .list, default: "unix:/run/mdad/lmtp",
              "Where mdad serve listens: unix:/path and inet:host:port, any mix."),
        .init("lmtp_unix_mode", .string, default: "0666",
              "Permissions of LMTP UNIX sockets (octal), so that Postfix can connect."),
        .init("lmtp_unix_owner", .string, default: "",
              "Owner (user[:group]) of LMTP UNIX sockets; empty keeps the server's."),
        .init("mynetworks", .list, default: "127.0.0.0/8, [::1]/128",
              "Clients allowed to connect over TCP; others get 554 5.7.1 at connect."),
        .init("lmtp_privilege_mode", .string, default: "fsuid",
              "How mdad serve running as root writes a mailbox another user owns: fsuid (the delivery thread takes the owner's file-system identity) or process (a child mdad deliver per copy). Commands always run in a child."),
        .init("policy_listen", .list, default: "",
              "Where mdad serve answers Postfix's check_policy_service (inet:host:port or unix:/path): unknown and over-quota recipients are refused at SMTP time."),
        .init("metrics_listen", .list, default: "",
              "Where mdad serve answers Prometheus scrapes (GET /metrics), inet:host:port; empty means no metrics endpoint."),
        .init("socketmap_listen", .list, default: "",
              "Where mdad serve answers socketmap lookups (map name recipients) for Postfix's local_recipient_maps or virtual_mailbox_maps."),
        .init("lmtp_timeout", .integer, default: "300",
              "Seconds a client may stay silent before 421 and disconnection."),
        .init("lmtp_max_connections", .integer, default: "100",
              "Simultaneous LMTP connections; more get 421 4.7.0."),
        .init("lmtp_recipient_limit", .integer, default: "1000",
              "Recipients per transaction; more get 452 4.5.3."),
        .init("lmtp_hard_error_limit", .integer, default: "20",
              "Client errors per session before 421 and disconnection."),
        .init("lmtp_shutdown_timeout", .integer, default: "30",
              "Seconds in-flight transactions may take to finish after SIGTERM."),
        // Virtual mailboxes, as Postfix's virtual(8) defines them.
        .init("virtual_mailbox_domains", .list, default: "",
              "Domains whose recipients have virtual mailboxes (names or tables)."),
        .init("virtual_mailbox_base", .string, default: "",
              "Prefix of every virtual_mailbox_maps result."),
        .init("virtual_mailbox_maps", .list, default: "",
              "Tables: address → mailbox path under virtual_mailbox_base; a trailing '/' means Maildir."),
        .init("virtual_uid_maps", .list, default: "",
              "Tables: address → user ID the virtual mailbox is written as (static:5000 for one ID)."),
        .init("virtual_gid_maps", .list, default: "",
              "Tables: address → group ID the virtual mailbox is written as."),
        .init("virtual_minimum_uid", .integer, default: "100",
              "The smallest user ID a virtual_uid_maps result may give."),
    ]
}

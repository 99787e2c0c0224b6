import Pipeline

/// The relay's parameters: the queue, the queue manager, the SMTP client. Names, meanings and
/// defaults are Postfix's, so a null-client main.cf from any tutorial reads the same here.
public enum RelayParameters {
    public static let all: [ParameterDeclaration] = [
        .init("default_transport", .string, default: "sendmail",
              "Where outbound mail goes: sendmail (hand it to sendmail_path, behind Postfix) or smtp (mdad's own queue and SMTP client: the null client). Setting relayhost implies smtp."),
        .init("queue_directory", .string, default: "/var/spool/mdad",
              "The outbound queue: incoming, active, deferred, hold, corrupt, defer and maildrop below it."),
        .init("relayhost", .string, default: "",
              "The next hop: [host]:port as given, host (its MX records), or empty for the recipient domain's MX."),
        .init("dns_resolver", .string, default: "",
              "A DNS server for MX and A lookups (host:port, UDP); empty means the first nameserver of /etc/resolv.conf."),
        .init("smtp_helo_name", .string, default: "$myhostname", "The name sent in EHLO/HELO."),
        .init("smtp_connect_timeout", .time, default: "30s", "How long a TCP connection to a server may take."),
        .init("smtp_helo_timeout", .time, default: "300s", "How long to wait for the greeting and the EHLO reply."),
        .init("smtp_data_done_timeout", .time, default: "600s", "How long to wait for the reply to the end of the message."),
        .init("smtp_command_timeout", .time, default: "300s", "How long to wait for the reply to any other command."),
        .init("smtp_tls_security_level", .string, default: "",
              "none, may (STARTTLS when offered), encrypt (STARTTLS required), verify or secure (required, certificate and host name checked)."),
        .init("smtp_tls_wrappermode", .boolean, default: "no", "TLS from the first byte (port 465, SMTPS) rather than STARTTLS."),
        .init("smtp_tls_CAfile", .string, default: "", "PEM file of trusted CA certificates for verify and secure."),
        .init("smtp_tls_CApath", .string, default: "", "Directory of trusted CA certificates (PEM) for verify and secure."),
        .init("smtp_sasl_auth_enable", .boolean, default: "no", "Authenticate to the server with SASL when it offers AUTH: PLAIN or LOGIN, CRAM-MD5 when it offers neither."),
        .init("smtp_sasl_password_maps", .list, default: "",
              "Tables: [host]:port, then host → username:password. Keep the file root-owned and mode 0600."),
        .init("smtp_sasl_security_options", .list, default: "noanonymous",
              "noanonymous, noplaintext (no PLAIN/LOGIN without TLS) — for sessions without TLS."),
        .init("smtp_sasl_tls_security_options", .list, default: "$smtp_sasl_security_options",
              "The same for sessions with TLS."),
        .init("smtp_destination_concurrency_limit", .integer, default: "20", "Parallel connections to one destination."),
        .init("smtp_connection_cache_time_limit", .time, default: "2s",
              "How long an idle connection is kept for the next message to the same destination."),
        .init("smtp_connection_reuse_count_limit", .integer, default: "100", "Messages sent over one connection before it is closed (0: no limit)."),
        .init("queue_run_delay", .time, default: "300s", "How often the deferred queue is scanned."),
        .init("minimal_backoff_time", .time, default: "300s", "The shortest wait before a deferred message is tried again."),
        .init("maximal_backoff_time", .time, default: "4000s", "The longest wait before a deferred message is tried again."),
        .init("maximal_queue_lifetime", .time, default: "5d", "How long a message may stay deferred before it is bounced."),
        .init("bounce_queue_lifetime", .time, default: "5d", "The same for bounces (mail from <>), which are then dropped."),
        .init("queue_scan_interval", .time, default: "1s", "How often incoming and maildrop are looked at for mail from other processes."),
    ]
}

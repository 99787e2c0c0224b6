import Pipeline

/// The parameters of the `rewrite` stage, with Postfix's names and Postfix 3.7's defaults
/// (`postconf -d` at compatibility level 3.6, where `append_dot_mydomain` is off).
public enum RewriteParameters {
    public static let all: [ParameterDeclaration] = [
        // trivial-rewrite(8): the "standard" address form.
        .init("append_at_myorigin", .boolean, default: "yes",
              "Append @$myorigin to an address without a domain (alice becomes alice@$myorigin)."),
        .init("append_dot_mydomain", .boolean, default: "no",
              "Append .$mydomain to a domain without a dot (alice@host becomes alice@host.$mydomain)."),
        .init("swap_bangpath", .boolean, default: "yes",
              "Rewrite site!user into user@site (an address without @ only)."),
        .init("allow_percent_hack", .boolean, default: "yes",
              "Rewrite user%domain into user@domain (an address without @ only; the last % counts)."),
        // cleanup(8): masquerading.
        .init("masquerade_domains", .list, default: "",
              "Parent domains that hide their subdomains (foo.example.com becomes example.com); !domain exempts one."),
        .init("masquerade_classes", .list, default: "envelope_sender, header_sender, header_recipient",
              "Which addresses are masqueraded: envelope_sender, envelope_recipient, header_sender, header_recipient."),
        .init("masquerade_exceptions", .list, default: "",
              "User names (local parts) that are never masqueraded, for example root."),
        // cleanup(8): canonical mapping.
        .init("canonical_maps", .list, default: "",
              "Tables that map sender and recipient addresses (user@domain, user, @domain), any table type."),
        .init("sender_canonical_maps", .list, default: "",
              "Tables that map sender addresses only; looked up before canonical_maps."),
        .init("recipient_canonical_maps", .list, default: "",
              "Tables that map recipient addresses only; looked up before canonical_maps."),
        .init("canonical_classes", .list, default: "envelope_sender, envelope_recipient, header_sender, header_recipient",
              "Which addresses canonical_maps applies to."),
        .init("sender_canonical_classes", .list, default: "envelope_sender, header_sender",
              "Which addresses sender_canonical_maps applies to."),
        .init("recipient_canonical_classes", .list, default: "envelope_recipient, header_recipient",
              "Which addresses recipient_canonical_maps applies to."),
        .init("propagate_unmatched_extensions", .list, default: "canonical, virtual",
              "Where an address extension (user+ext) matched without it is put back into the result (canonical)."),
        // When headers are rewritten at all (cleanup's header rewrite context).
        .init("local_header_rewrite_clients", .list, default: "permit_inet_interfaces",
              "LMTP clients whose message headers are rewritten: permit_inet_interfaces (loopback or UNIX socket), permit_mynetworks, static:all; mail on stdin always is."),
        .init("remote_header_rewrite_domain", .string, default: "",
              "For other clients: empty leaves their headers alone; a domain rewrites them, qualifying with that domain."),
        // header_checks(5) and body_checks.
        .init("header_checks", .list, default: "",
              "Tables (pcre: and others) matched against each top-level header, unfolded lines joined as one."),
        .init("mime_header_checks", .list, default: "$header_checks",
              "Tables matched against MIME headers (MIME-Version, Content-*) at every level."),
        .init("nested_header_checks", .list, default: "$header_checks",
              "Tables matched against the headers of attached messages (message/rfc822)."),
        .init("body_checks", .list, default: "",
              "Tables matched against each body line."),
        .init("body_checks_size_limit", .size, default: "51200",
              "How many bytes of each body part body_checks examines."),
    ]
}

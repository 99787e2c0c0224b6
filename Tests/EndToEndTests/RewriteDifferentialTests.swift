import Foundation
import Testing

/// The base of every group: the same identity on both sides.
let judgeIdentity = """
    myhostname = mx.example.test
    mydomain = example.test
    myorigin = example.test
    mydestination = mx.example.test
    """

/// The same with $myorigin a subdomain, for masquerading.
private let masqueradeIdentity = judgeIdentity.replacingOccurrences(of: "myorigin = example.test", with: "myorigin = host.example.test")

/// Addresses that are hard to get right, in every header cleanup(8) rewrites.
private let trickyHeaders: [RewriteCase] = [
    RewriteCase(name: "unqualified and host-only", sender: "alice", recipients: ["bob", "carol@host"], headers: """
        From: Alice <alice>
        To: bob, carol@host, "Quoted Name" <dave@host>
        Cc: erin@example.org
        Subject: unqualified

        """),
    RewriteCase(name: "bang path and percent hack", sender: "site!user", recipients: ["x%y"], headers: """
        From: a!b!user
        To: x%y%z, u%v@w.example.org, "q!r"@example.org
        Subject: bang and percent

        """),
    RewriteCase(name: "groups and empty groups", sender: "sender@example.org", recipients: ["r@example.org"], headers: """
        From: sender@example.org
        To: team: ann, ben@example.org;, undisclosed-recipients:;
        Cc: "A Group": ;
        Subject: groups

        """),
    RewriteCase(name: "quoted local parts", sender: "\"john doe\"@example.org", recipients: ["r@example.org"], headers: """
        From: "john doe"@example.org
        To: "jane doe", "x.y"@example.org, "a\\"b"@host
        Subject: quoted

        """),
    RewriteCase(name: "comments", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: alice (Alice Example)
        To: (lead) bob@host (Bob) , carol (c) <carol> (trailing)
        Cc: dave@host. (trailing dot)
        Subject: comments

        """),
    RewriteCase(name: "encoded display names", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: =?utf-8?q?J=C3=B6rg?= <joerg>
        To: =?iso-8859-1?B?SvZyZw==?= <j@host>, "=?utf-8?q?quoted?=" <q>
        Reply-To: =?utf-8?q?Reply_Name?= <reply>
        Subject: =?utf-8?q?unchanged_subject?=

        """),
    RewriteCase(name: "route addresses", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: <@relay1.example,@relay2.example:user@host>
        To: Name <@r.example:u@example.org>
        Subject: routes

        """),
    RewriteCase(name: "null and empty addresses", sender: "", recipients: ["r@example.org"], headers: """
        From: <>
        To: r@example.org
        Errors-To: <>
        Return-Receipt-To: @
        Subject: null

        """),
    RewriteCase(name: "every address header", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: f
        Sender: s
        Reply-To: rt
        To: t
        Cc: c
        Bcc: b
        Resent-Date: Wed, 25 Nov 2026 01:00:00 +0000
        Resent-Message-ID: <resent@judge.example>
        Resent-From: rf
        Resent-Sender: rs
        Resent-To: rto
        Resent-Cc: rc
        Resent-Bcc: rb
        Resent-Reply-To: rrt
        Return-Receipt-To: rrcpt
        Errors-To: et
        Disposition-Notification-To: dnt
        Apparently-To: at
        Delivered-To: dt
        X-Other: xo
        Subject: all

        """),
    RewriteCase(name: "unchanged headers keep their folding", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From:   Already <ok@example.org>
        To: one@example.org,
           two@example.org,\ttwo-b@example.org
        Cc:
         three@example.org
        Subject: folded
         subject

        """),
    RewriteCase(name: "long list is refolded", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: s@example.org
        To: aaaa, bbbb@example.org, cccc, "Dee Dee" <dddd>, eeee@host, ffff, gggg@example.org, hhhh, iiii, jjjj, kkkk
        Subject: long

        """),
    RewriteCase(name: "domain literals and odd domains", sender: "s@[192.0.2.1]", recipients: ["r@[192.0.2.2]"], headers: """
        From: user@[192.0.2.1]
        To: u@host., v@a..b, w@., John Q. Public <jqp>
        Subject: literals

        """),
    RewriteCase(name: "8-bit names, quoted commas, nested comments, case", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: Jörg Müller <joerg>
        To: "Doe, John" <john>, Alice@Host, (outer (inner) comment) bob
        To: second-to
        Cc: <john (in angle) @host>, user@localhost, "" <empty-phrase>, <(first) x@host (last)>
        Subject: odd

        """),
    RewriteCase(name: "headers that are not addresses", sender: "s@example.org", recipients: ["r@example.org"], headers: """
        From: s@example.org
        To: ,,,
        Cc: <unclosed
        Reply-To: @@@
        Subject: garbage

        """),
]

/// Differential tests: the same messages and main.cf settings through Postfix's cleanup(8) (a
/// private instance, local submission with its sendmail, or SMTP on loopback) and through
/// mdad's rewrite stage; envelope and every header compared. Each group prints its agreement
/// figure and every difference; the floors are what the code meets today.
@Suite("rewrite differential against Postfix", .serialized)
struct RewriteDifferentialTests {
    @Test func standardFormWithAppendDotMydomain() async throws {
        let r = try await runRewriteDifferential("standard form, append_dot_mydomain = yes", settings: judgeIdentity + """

            append_dot_mydomain = yes
            """, trickyHeaders)
        #expect(r.ratio >= 0.97, "\(r.figure)")
    }

    @Test func standardFormSwitchedOff() async throws {
        let r = try await runRewriteDifferential("append_at_myorigin, swap_bangpath, allow_percent_hack = no", settings: judgeIdentity + """

            append_at_myorigin = no
            append_dot_mydomain = no
            swap_bangpath = no
            allow_percent_hack = no
            """, trickyHeaders)
        #expect(r.ratio >= 0.97, "\(r.figure)")
    }

    static let canonicalTables = [
        "canonical": """
            alice@example.test     alice.smith@example.test
            bob                    robert.b@example.test
            @old.example           @new.example
            carol+ext@example.test carol.ext@example.test
            dave@example.test      dave@other.example
            loop1@example.test     loop2@example.test
            loop2@example.test     loop3@example.test
            self@example.test      self@example.test
            multi@example.test     first@example.test, second@example.test

            """,
        "sender_canonical": """
            sender@example.test    s.canon@example.test
            both@example.test      both.sender@example.test

            """,
        "recipient_canonical": """
            rcpt@example.test      r.canon@example.test
            both@example.test      both.recipient@example.test

            """,
        "canonical.pcre": """
            /^(.*)@pcre\\.example$/    ${1}@pcre-mapped.example
            /^UPPER@Case\\.example$/   matched-case@example.test

            """,
    ]

    static let canonicalCases: [RewriteCase] = [
        RewriteCase(name: "canonical lookup order", sender: "alice", recipients: ["bob@mx.example.test", "x@old.example"], headers: """
            From: alice, sender, both
            To: bob, bob@elsewhere.example, someone@old.example, carol+ext, dave+foo, loop1, self, multi
            Cc: rcpt, both, z@pcre.example, UPPER@Case.example, Bob@MX.Example.Test
            Subject: canonical

            """),
        RewriteCase(name: "sender and recipient canonical in the envelope", sender: "sender", recipients: ["rcpt", "both", "dave+x"], headers: """
            From: x@example.org
            Subject: envelope canonical

            """),
        RewriteCase(name: "null sender is not mapped", sender: "", recipients: ["alice"], headers: """
            From: <>
            Subject: null

            """),
    ]

    @Test func canonicalMaps() async throws {
        let r = try await runRewriteDifferential("canonical maps", settings: judgeIdentity + """

            recipient_delimiter = +
            canonical_maps = texthash:TABLES/canonical, pcre:TABLES/canonical.pcre
            sender_canonical_maps = texthash:TABLES/sender_canonical
            recipient_canonical_maps = texthash:TABLES/recipient_canonical
            """, tables: Self.canonicalTables, Self.canonicalCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    @Test func canonicalClassesAndNoPropagation() async throws {
        let r = try await runRewriteDifferential("canonical classes", settings: judgeIdentity + """

            recipient_delimiter = +
            canonical_maps = texthash:TABLES/canonical
            sender_canonical_maps = texthash:TABLES/sender_canonical
            recipient_canonical_maps = texthash:TABLES/recipient_canonical
            canonical_classes = header_recipient, envelope_sender
            sender_canonical_classes = header_sender
            recipient_canonical_classes = envelope_recipient
            propagate_unmatched_extensions = virtual
            """, tables: Self.canonicalTables, Self.canonicalCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    @Test func canonicalMapsOnUnqualifiedAddresses() async throws {
        let r = try await runRewriteDifferential("canonical maps, append_at_myorigin = no", settings: judgeIdentity + """

            append_at_myorigin = no
            recipient_delimiter = +
            canonical_maps = texthash:TABLES/canonical, pcre:TABLES/canonical.pcre
            """, tables: Self.canonicalTables, Self.canonicalCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    static let masqueradeCases: [RewriteCase] = [
        RewriteCase(name: "masquerading", sender: "user@host.example.test", recipients: ["r@host.example.test"], headers: """
            From: a@host.example.test, b@sub.example.test, c@x.sub.example.test, root@host.example.test
            To: d@example.test, e@deep.host.example.test, f@EXAMPLE.TEST, g@other.example, ROOT@a.example.test
            Subject: masquerade

            """),
        RewriteCase(name: "masquerading after qualification", sender: "plain", recipients: ["r@a.b.example.test"], headers: """
            From: plain
            To: h@deeper.sub.example.test
            Subject: masquerade 2

            """),
    ]

    @Test func masquerading() async throws {
        let r = try await runRewriteDifferential("masquerade_domains", settings: masqueradeIdentity + """

            masquerade_domains = !sub.example.test, example.test
            masquerade_exceptions = root
            """, Self.masqueradeCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    @Test func masqueradeClasses() async throws {
        let r = try await runRewriteDifferential("masquerade_classes", settings: masqueradeIdentity + """

            masquerade_domains = example.test
            masquerade_classes = envelope_recipient, header_recipient
            """, Self.masqueradeCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    static let smtpCases: [RewriteCase] = trickyHeaders.prefix(6).map { c in
        var c = c
        c.viaSMTP = true
        if c.sender.isEmpty { c.sender = "s@example.org" }
        return c
    }

    @Test func remoteClientWithRemoteHeaderRewriteDomain() async throws {
        let r = try await runRewriteDifferential("SMTP client, remote_header_rewrite_domain", settings: judgeIdentity + """

            local_header_rewrite_clients =
            remote_header_rewrite_domain = remote.example
            append_dot_mydomain = yes
            """, Self.smtpCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    @Test func remoteClientHeadersLeftAlone() async throws {
        let r = try await runRewriteDifferential("SMTP client, no header rewriting", settings: judgeIdentity + """

            local_header_rewrite_clients =
            masquerade_domains = example.org
            """, Self.smtpCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }

    @Test func localClientOverSMTP() async throws {
        let r = try await runRewriteDifferential("SMTP client, permit_inet_interfaces", settings: judgeIdentity + """

            local_header_rewrite_clients = permit_inet_interfaces
            """, Self.smtpCases)
        #expect(r.ratio >= 1.0, "\(r.figure)")
    }
}

/// mdad serve's Received field (Sources/LMTPServer/LMTPDelivery.swift) has the form Postfix's
/// smtpd(8) writes; LMTPServeTests checks mdad's against the same shape.
@Suite("Received field as Postfix writes it")
struct ReceivedFormTests {
    @Test func postfixsShapeMatchesMdads() async throws {
        let judge = try RewriteJudge(settings: "myhostname = mx.example.test\nmydestination = mx.example.test\n")
        defer { judge.stop() }
        let c = RewriteCase(name: "received", sender: "s@example.org", recipients: ["alice@example.com"],
                            headers: "From: s@example.org\nSubject: received\n", viaSMTP: true)
        try judge.submitToPostfix(c, index: 0)
        _ = try judge.postfixOutcome(c, index: 0)
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: judge.out.path).first)
        let text = try String(contentsOfFile: judge.out.appendingPathComponent(file).path, encoding: .utf8)
        let received = try #require(text.split(separator: "\n", omittingEmptySubsequences: false)
            .drop { !$0.hasPrefix("Received: ") }.prefix(3).joined(separator: "\n") as String?)
        print("Postfix wrote: \(received)")
        // The shape LMTPServeTests expects of mdad, with Postfix's mail_name and protocol.
        let shape = #/^Received: from client\.example\.test \(localhost \[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(Postfix\) with ESMTP id [0-9A-F]+\n\tfor <alice@example\.com>; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]+\)$/#
        #expect(received.wholeMatch(of: shape) != nil, "\(received)")
    }
}

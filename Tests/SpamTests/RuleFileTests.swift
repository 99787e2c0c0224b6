import Pipeline
import Testing
@testable import Spam

func message(_ text: String) throws -> Message { try Message.parse(Spool(bytes: Array(text.utf8))) }

@Suite("SpamAssassin rule files")
struct RuleFileTests {
    @Test func errorsNameFileAndLineAndTheRestLoads() throws {
        let rules = RuleSet.parse("""
            body GOOD_ONE /cheap pills/i
            score GOOD_ONE 2.5
            body BAD_REGEX /unclosed(group/
            header BROKEN Subject ~~ nothing
            score NOT_A_SCORE abc
            meta BAD_META (GOOD_ONE &&
            frobnicate something
            endif
            if (version >= 3.004000)
            body AFTER_IF /after the if/
            endif
            describe GOOD_ONE Mentions cheap pills
            """, name: "local.cf")
        let d = rules.diagnostics
        #expect(d.errors.contains { $0.hasPrefix("local.cf:4: header BROKEN") }, "\(d.errors)")
        #expect(d.errors.contains { $0.hasPrefix("local.cf:5: score") })
        #expect(d.errors.contains { $0.hasPrefix("local.cf:6: meta BAD_META") })
        #expect(d.errors.contains { $0.hasPrefix("local.cf:8: endif without if") })
        #expect(d.unsupportedRegexes.contains { $0.rule == "BAD_REGEX" && $0.origin == "local.cf:3" && $0.reason.contains("missing closing parenthesis") })
        #expect(d.unknownDirectives.contains { $0.name == "frobnicate" && $0.count == 1 && $0.first == "local.cf:7" })
        let r = try rules.check(message("Subject: hi\n\nBuy CHEAP PILLS now, after the if\n"))
        #expect(r.hits["GOOD_ONE"] == 1)
        #expect(r.hits["AFTER_IF"] == 1)
        #expect(r.score == 3.5)
        #expect(r.scoredRules.map(\.name) == ["AFTER_IF", "GOOD_ONE"])
    }

    @Test func conditionalsAndPlugins() throws {
        let rules = RuleSet.parse("""
            loadplugin Mail::SpamAssassin::Plugin::MIMEHeader
            ifplugin Mail::SpamAssassin::Plugin::MIMEHeader
            body IN_LOADED /word/
            else
            body IN_ELSE /word/
            endif
            ifplugin Mail::SpamAssassin::Plugin::NotLoaded
            body IN_MISSING /word/
            endif
            if !can(Mail::SpamAssassin::Conf::feature_no_such_thing) && version >= 4.0
            body IN_CAN /word/
            endif
            """)
        let r = try rules.check(message("Subject: x\n\nword\n"))
        #expect(Set(r.hits.keys) == ["IN_LOADED", "IN_CAN"])
    }

    @Test func headerRuleForms() throws {
        let rules = RuleSet.parse("""
            header H_NAME From:name =~ /^Cheap Meds$/
            header H_ADDR From:addr =~ /^deals\\@example\\.biz$/
            header H_RAW Subject:raw =~ /=\\?utf-8\\?B\\?/i
            header H_DECODED Subject =~ /^Grüße$/
            header H_EXISTS exists:X-Mailer
            header H_NOT_EXISTS exists:X-Nothing
            header H_NEG To !~ /example\\.com/
            header H_UNSET X-Missing =~ /^fallback$/ [if-unset: fallback]
            header H_ALL ALL =~ /^X-Mailer: Foo/m
            header H_TOCC ToCc =~ /boss\\@example\\.com/
            header H_MSGID MESSAGEID =~ /^<abc\\@example\\.biz>$/
            header H_ENV EnvelopeFrom =~ /^bounce\\@example\\.biz$/
            """)
        let m = try message("""
            Return-Path: <bounce@example.biz>
            From: "Cheap Meds" <deals@example.biz>
            To: someone@elsewhere.org
            Cc: boss@example.com
            Subject: =?utf-8?B?R3LDvMOfZQ==?=
            Message-ID: <abc@example.biz>
            X-Mailer: Foo 1.0

            body

            """)
        let r = try rules.check(m)
        let expected: Set<String> = ["H_NAME", "H_ADDR", "H_RAW", "H_DECODED", "H_EXISTS", "H_NEG", "H_UNSET", "H_ALL", "H_TOCC", "H_MSGID", "H_ENV"]
        #expect(Set(r.hits.keys) == expected)
    }

    @Test func metaArithmeticAndScoreSets() throws {
        let rules = RuleSet.parse("""
            body __A /alpha/
            body __B /beta/
            body __C /gamma/
            tflags __C multiple maxhits=5
            meta TWO_OF_THREE (__A + __B + __C) >= 2
            meta MANY_GAMMA __C > 3
            meta NOT_BOTH !(__A && __B)
            score TWO_OF_THREE 1.0 2.0 3.0 4.0
            score NOT_BOTH 0
            """)
        let r = try rules.check(message("Subject: x\n\nalpha gamma gamma gamma gamma gamma gamma\n"))
        #expect(r.hits["__C"] == 5)
        #expect(r.hits["TWO_OF_THREE"] == 1)
        #expect(r.hits["MANY_GAMMA"] == 1)
        #expect(r.hits["NOT_BOTH"] == nil) // score 0: not run
        #expect(r.score == 2.0) // score set 0 of TWO_OF_THREE (1.0) + MANY_GAMMA's default 1.0
    }

    @Test func replaceTags() throws {
        let rules = RuleSet.parse("""
            replace_tag V (?:v|\\\\/)
            replace_tag I (?:i|1|l)
            replace_inter W1 \\W?
            body FUZZY_VI /<inter W1><V><I>agra/i
            replace_rules FUZZY_VI
            """)
        #expect(try rules.check(message("Subject: x\n\nbuy V.1agra\n")).hits["FUZZY_VI"] == 1)
        #expect(try rules.check(message("Subject: x\n\nbuy viagra\n")).hits["FUZZY_VI"] == 1)
        #expect(try rules.check(message("Subject: x\n\nbuy vagra\n")).hits["FUZZY_VI"] == nil)
    }

    @Test func pathologicalRegexIsCutOffAndTheMessageStillPasses() throws {
        let rules = RuleSet.parse("""
            body CATASTROPHIC /^(a+)+$/
            body NORMAL /aaaa/
            """, limits: PCRERegex.Limits(matchLimit: 10_000, depthLimit: 1_000))
        let started = ContinuousClock.now
        let r = try rules.check(message("Subject: x\n\n" + String(repeating: "a", count: 40) + "!\n"))
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(r.matchErrors.contains { $0.rule == "CATASTROPHIC" && $0.error.contains("limit") }, "\(r.matchErrors)")
        #expect(r.hits["CATASTROPHIC"] == nil)
        #expect(r.hits["NORMAL"] == 1)
    }

    @Test func requiredLiterals() {
        #expect(RequiredLiterals.of("cheap\\s+pills", extended: false) == [Array("cheap".utf8)])
        #expect(RequiredLiterals.of("\\b(?:viagra|cialis)\\b", extended: false) == [Array("viagra".utf8), Array("cialis".utf8)])
        #expect(RequiredLiterals.of("foo(?:bar)?", extended: false) == [Array("foo".utf8)])
        #expect(RequiredLiterals.of("ab?cd", extended: false) == nil)
        #expect(RequiredLiterals.of("[a-z]+@(?:yahoo|gmail)\\.com", extended: false) == [Array("yahoo".utf8), Array("gmail".utf8)])
        #expect(RequiredLiterals.of("x|yz", extended: false) == nil)
        #expect(RequiredLiterals.of("Dear \\s+ Friend", extended: true) == [Array("friend".utf8)])
        #expect(RequiredLiterals.of("\\QA.B*C\\E", extended: false) == [Array("a.b*c".utf8)])
    }

    @Test func literalScannerFindsCaseInsensitively() {
        let s = LiteralScanner([Array("viagra".utf8), Array("agr".utf8), Array("zzz".utf8)])
        #expect(s.scan([Array("Buy VIAGRA".utf8)]) == [true, true, false])
        #expect(s.scan([Array("nothing".utf8), Array("zz z".utf8)]) == [false, false, false])
    }
}

import Testing
@testable import Plugins

@Suite("procmailrc parser")
struct ProcmailParserTests {
    func parse(_ text: String) throws -> ProcmailRC {
        try ProcmailParser.parse(Array(text.utf8), file: "rc")
    }

    @Test func assignmentsKeepTheirQuotesForTheExpander() throws {
        let rc = try parse("""
            A=one two   # a comment
            B="x y"z'$HOME'
            C=a#b
            D = spaced
            E=${X:-a b}
            F
            """)
        let got = rc.items.map { item -> String in
            if case .assignment(let n, let v, _) = item { return "\(n)=\(v ?? "(unset)")" }
            return "?"
        }
        #expect(got == ["A=one", #"B="x y"z'$HOME'"#, "C=a#b", "D=spaced", "E=${X:-a b}", "F=(unset)"])
    }

    @Test func recipesFlagsLocksConditionsAndActions() throws {
        let rc = try parse("""
            :0 HBc:
            * ^Subject:.*test
            * ! ^From:.*daemon
            * 2^1 money
            * $ ^To:.*$USER
            * ? test -f /etc/passwd
            * < 1000
            * B ?? body
            folder
            :0 fw : my.lock
            | sed -e 's/a/b/' \\
              -e 's/c/d/'
            :0
            ! a@example.org b@example.org
            :0 h
            VAR=| formail -xSubject:
            """)
        #expect(rc.items.count == 4)
        guard case .recipe(let r) = rc.items[0], case .recipe(let f) = rc.items[1],
              case .recipe(let fw) = rc.items[2], case .recipe(let cap) = rc.items[3] else {
            Issue.record("expected four recipes"); return
        }
        #expect(r.flags.header && r.flags.body && r.flags.copy && !r.flags.filter)
        #expect(r.lockfile == "")
        #expect(r.conditions.count == 7)
        #expect(r.conditions[1].negate)
        #expect(r.conditions[2].weight?.w == 2 && r.conditions[2].weight?.x == 1)
        #expect(r.conditions[3].expand)
        if case .program(let c) = r.conditions[4].kind { #expect(c == "test -f /etc/passwd") } else { Issue.record("? condition") }
        if case .size(let less, let n) = r.conditions[5].kind { #expect(less && n == 1000) } else { Issue.record("< condition") }
        if case .variable(let v, _, let t) = r.conditions[6].kind { #expect(v == "B" && t == "body") } else { Issue.record("?? condition") }
        if case .folders(let t) = r.action { #expect(t == "folder") } else { Issue.record("folder action") }
        #expect(f.flags.filter && f.flags.wait && f.lockfile == "my.lock")
        if case .pipe(let c) = f.action { #expect(c.contains("-e 's/c/d/'")) } else { Issue.record("pipe action") }
        if case .forward(let t) = fw.action { #expect(t == "a@example.org b@example.org") } else { Issue.record("forward") }
        if case .capture(let v, let c) = cap.action { #expect(v == "VAR" && c == "formail -xSubject:") } else { Issue.record("capture") }
    }

    @Test func nestedBlocks() throws {
        let rc = try parse("""
            :0
            * ^To:.*bob
            {
              :0
              { LOG="inner
            " }
              X=1
            }
            Y=2
            """)
        #expect(rc.items.count == 2)
        guard case .recipe(let r) = rc.items[0], case .block(let items) = r.action else { Issue.record("block"); return }
        #expect(items.count == 2)
    }

    @Test func errorsNameFileAndLine() {
        func message(_ text: String) -> String {
            do { _ = try ProcmailParser.parse(Array(text.utf8), file: "rc"); return "" } catch { return error.description }
        }
        #expect(message(":0\n* ^Subject\n") == "rc, line 1: recipe without an action")
        #expect(message("A=1\n:0 Q\nx\n") == "rc, line 2: unknown flag 'Q'; expected one of H B D A a E e h b f c w W i r")
        #expect(message(":0\n{\nA=1\n") == "rc, line 4: end of file inside a block; expected '}'")
        #expect(message("}\n") == "rc, line 1: '}' without a block to close")
        #expect(message(":0\n* (open\nx\n").hasPrefix("rc, line 2: bad regular expression \"(open\""))
        #expect(message(":0 f\nfolder\n") == "rc, line 1: the f flag needs a '|' action")
        #expect(message("A=\"open\n") == "rc, line 1: unterminated \" quote")
    }

    @Test func nestingIsLimited() {
        let deep = String(repeating: ":0\n{\n", count: ProcmailRC.maximumNesting + 2)
        #expect(throws: ProcmailParseError.self) { try parse(deep) }
    }
}

/// The second generator: match variables, editheader seen by later tests, encoded-character,
/// set modifiers, body :content, limits, run-time conflicts and compile errors.
extension SieveDifferentialTests {
    static func hardTest(_ g: inout Generator) -> String {
        switch g.next() % 18 {
        case 0: return "header :matches \"subject\" \"\(g.pick(["*e*e*", "*: *", "[*] *", "* ?o*", "*"]))\""
        case 1: return "header :regex \"subject\" \"\(g.pick(["([a-z]+) ([a-z]+)", "^([A-Z]+) ", "(in)(vo)ice ([0-9]+)", "^no(te)?"]))\""
        case 2: return "address :count \"\(g.pick(["ge", "eq", "lt"]))\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"\(g.pick(["1", "2", "3"]))\""
        case 3: return "body :content \"\(g.pick(["text/plain", "text", "application", "application/pdf"]))\" :contains \"\(g.pick(["invoice", "%PDF", "Berlin", "budget"]))\""
        case 4: return "string :matches \"${sub}\" \"\(g.pick(["*[*]*", "*!*", "Your *"]))\""
        case 5: return "header :contains \"x-sieve\" \"seen\""
        case 6: return "exists \"x-priority\""
        case 7: return "envelope :all :is \"to\" \"\(g.pick(["bob+lists@example.com", "bob@example.com", "BOB@example.com"]))\""
        case 8: return "address :domain :is \"from\" \"\(g.pick(["EXAMPLE.ORG", "example.org", "shop.example"]))\""
        case 9: return "header :matches \"subject\" \"\(g.pick(["${hex:4D 65}*", "${unicode:0057}*", "${hex:6e}ote*"]))\""
        case 10: return "header :value \"\(g.pick(["lt", "gt"]))\" \"subject\" \"\(g.pick(["N", "m", "Your"]))\""
        case 11: return "currentdate :value \"ge\" \"year\" \"2020\""
        case 12: return "valid_notify_method \"\(g.pick(["mailto:a@b.example", "xmpp:a@b.example", "mailto:"]))\""
        case 13: return "size :over \(g.pick(["1000000", "10", "1M"]))"
        case 14: return "header :is \"from\" \"\(g.pick(["J\u{FC}rgen M\u{FC}ller <juergen@example.de>", "billing@shop.example", "bob@example.com"]))\""
        case 15: return "address :localpart :matches \"from\" \"\(g.pick(["*-*", "owner-*", "b?b", "*"]))\""
        case 16: return "hasflag \"\(g.pick(["\\\\seen", "work", "a b"]))\""
        default: return "header :contains \"subject\" \"\(g.pick(["Gr\u{FC}\u{DF}e", "BUDGET", "fix the"]))\""
        }
    }

    static func hardAction(_ g: inout Generator) -> String {
        switch g.next() % 20 {
        case 0: return "fileinto \"M.${1}.${2}\";"
        case 1: return "fileinto \"R.${0}\";"
        case 2: return "reject \"no\"; keep;"
        case 3: return "keep; reject text:\nNot here.\n..dot line\n.\n;"
        case 4: return "vacation :addresses [\"bob@example.com\"] :handle \"h1\" :subject \"Re: ${sub}\" text:\nI am away\n..until Monday\n.\n;"
        case 5: return "vacation :mime \"Content-Type: text/plain\\r\\n\\r\\nAway\";"
        case 6: return "set :upperfirst :lower \"n\" \"${sub}\"; fileinto \"U.${n}\";"
        case 7: return "set :quotewildcard \"q\" \"${sub}\"; if header :matches \"subject\" \"${q}\" { fileinto \"Q\"; }"
        case 8: return "set :encodeurl \"e\" \"${sub}\"; notify :message \"${e}\" \"mailto:pager@example.net\";"
        case 9: return "fileinto \"${unicode:263A}\";"
        case 10: return "redirect \"a@example.net\"; redirect \"b@example.net\"; redirect \"c@example.net\"; redirect \"d@example.net\"; redirect \"e@example.net\";"
        case 11: return "discard; keep;"
        case 12: return "addflag \"fv\" [\"x\", \"\\\\Seen\"]; fileinto :flags \"${fv}\" \"V\";"
        case 13: return "notify :importance \"1\" :from \"bob@example.com\" :options [\"\(g.pick(["x=1", "x=1", "x"]))\"] \"mailto:x@example.com?subject=hi\";"
        case 14: return "addheader :last \"X-Sieve\" \"seen\"; deleteheader :index 1 \"received\"; deleteheader \"x-priority\";"
        case 15: return "deleteheader :matches \"subject\" \"*e*\";"
        case 16: return "set \"a\" \"${1}\"; fileinto \"A.${a}\";"
        case 17: return "if duplicate { discard; }"
        case 18: return "redirect :copy \"carol@example.net\"; redirect \"carol@example.net\";"
        default: return "fileinto :copy :flags \"\\\\Seen\" \"S\"; stop;"
        }
    }

    static func hardScript(_ g: inout Generator) -> String {
        var s = "require [\(capabilities.map { "\"\($0)\"" }.joined(separator: ", ")), \"duplicate\"];\n"
        s += "set \"sub\" \"\";\nif header :matches \"subject\" \"*\" { set \"sub\" \"${1}\"; }\n"
        if g.chance(8) { return g.pick(["require \"nonexistent\";\nkeep;\n", "keep\nstop;\n", "fileinto \"x\";\n",
                                        "require \"fileinto\";\nif true { fileinto \"a\" }\n", "require \"fileinto\";\nfileinto 3;\n", "require [\"fileinto\", \"imap4flags\"];\n\nkeep :flag \"x\";\n",
                                        "require \"variables\";\nset \"a b\" \"c\";\n", "if header :is \"to\" { keep; }\n", "/* unclosed\nkeep;\n",
                                        "require \"fileinto\";\nif true {\n fileinto \"a\";\n", "keep;\n\"stray\";\n"]) }
        for _ in 0..<(1 + Int(g.next() % 4)) {
            if g.chance(30) {
                s += hardAction(&g) + "\n"
            } else {
                s += "if \(hardTest(&g)) {\n  \(hardAction(&g))\n}"
                if g.chance(30) { s += " else {\n  \(g.chance(50) ? hardAction(&g) : action(&g))\n}" }
                s += "\n"
            }
        }
        return s
    }
}

import Testing
@testable import Pipeline

/// aliases(5) as Postfix 3.7's postalias reads it; the expected values are what postalias
/// stored for the same lines (observed with `cdb -d` on its output).
@Suite("aliases file")
struct AliasesFileTests {
    @Test(arguments: [
        ("root: admin", "root", "admin"),
        ("admin: alice,\n   bob@example.com ,\n\tcarol", "admin", "alice, bob@example.com, carol"),
        ("\"a b\": \"|/bin/cat\"", "a b", "\"|/bin/cat\""),
        ("Alias2: /tmp/file", "alias2", "/tmp/file"),
        ("empty:\n  indented: x", "empty", "indented:x"),
        ("list: :include:/etc/list", "list", ":include:/etc/list"),
        ("sp ace: v", "sp ace", "v"),
        ("y : value", "y", "value"),
        ("z: a (c) , b", "z", "a (c), b"),
        ("w: \"quoted, comma\" , c", "w", "\"quoted, comma\", c"),
        ("u: a<b@c>d", "u", "a <b@c>d"),
        ("v: a;b", "v", "a;b"),
        ("t: [1.2.3.4] x", "t", "[1.2.3.4] x"),
        ("s: @x, \\\\y", "s", "@x, \"\\\\y\""),
        ("r:\"q\"@x", "r", "\"q\"@x"),
        ("q: a. b .c", "q", "a.b.c"),
    ])
    func valuesAsPostaliasStoresThem(_ text: String, _ key: String, _ value: String) {
        let parsed = AliasesFile.parse(text + "\n", file: "aliases")
        #expect(parsed.warnings.isEmpty, "\(parsed.warnings)")
        #expect(parsed.entries.map(\.key) == [key])
        #expect(parsed.entries.first?.value == value)
    }

    @Test func malformedLinesAndDuplicatesWarnAsPostalias() {
        let parsed = AliasesFile.parse("""
            # comment
            root: admin
            root: other
            nocolon value
            : novalue
            x:
            quoted"inside: y
            "unterminated: z
              # indented comment
            ok: yes

            """, file: "/etc/aliases")
        #expect(parsed.entries.map(\.key) == ["root", "ok"])
        #expect(parsed.entries.first?.value == "admin", "the first value wins")
        #expect(parsed.warnings == [
            "/etc/aliases: duplicate entry: \"root\"",
            "/etc/aliases, line 4: need name:value pair",
            "/etc/aliases, line 5: need name:value pair",
            "/etc/aliases, line 6: need name:value pair",
            "/etc/aliases, line 7: need name:value pair",
            "/etc/aliases, line 8: need name:value pair",
        ])
        let replaced = AliasesFile.parse("a: 1\na: 2\n", file: "f", replace: true)
        #expect(replaced.entries.map(\.value) == ["2"])
        #expect(replaced.warnings.isEmpty)
    }
}

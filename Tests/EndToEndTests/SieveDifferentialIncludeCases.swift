/// The fourth generator: include (RFC 6609) — :personal and :global, :once, :optional, global
/// variables, return, stop inside an included script, flags set by one script and used by
/// another.
extension SieveDifferentialTests {
    static let includeLibrary: [String: String] = [
        "personal/tag": """
            require ["variables", "include"];
            global "folder";
            if header :contains "subject" ["a", "e"] { set "folder" "Tagged"; return; }
            set "folder" "Other";
            """,
        "personal/spam": """
            require "fileinto";
            if anyof (exists "x-spam-flag", header :contains "subject" "prize") { fileinto "Junk"; stop; }
            """,
        "personal/nested": """
            require ["include", "imap4flags"];
            include :global "flags";
            include :once "spam";
            addflag "nested";
            """,
        "personal/lists": """
            require ["fileinto", "variables"];
            if header :matches "list-id" "*<*.*>" { fileinto "Lists.${2}"; }
            """,
        "global/flags": """
            require "imap4flags";
            addflag "\\\\Flagged";
            """,
        "global/vacation": """
            require "vacation";
            vacation :days 2 "Away (global).";
            """,
    ]

    static func includeScript(_ g: inout Generator) -> String {
        var s = "require [\"include\", \"variables\", \"fileinto\", \"imap4flags\"];\nglobal \"folder\";\n"
        for _ in 0..<(1 + Int(g.next() % 5)) {
            switch g.next() % 10 {
            case 0: s += "include :personal \"tag\";\n"
            case 1: s += "include :once \"spam\";\n"
            case 2: s += "include \"nested\";\n"
            case 3: s += "include :global :once \"flags\";\n"
            case 4: s += "include :optional \"\(g.pick(["missing", "lists"]))\";\n"
            case 5: s += "if string :is \"${folder}\" \"\" { set \"folder\" \"Unset\"; }\nfileinto \"${folder}\";\n"
            case 6: s += "include :global \"vacation\";\n"
            case 7: s += "if hasflag \"\\\\Flagged\" { fileinto \"Flagged\"; }\n"
            case 8: s += "include \"lists\";\n"
            default: s += "if header :contains \"subject\" \"budget\" { stop; }\n"
            }
        }
        return s + "fileinto \"Final.${folder}\";\n"
    }
}

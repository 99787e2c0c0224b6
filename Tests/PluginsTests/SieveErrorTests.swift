import Testing
@testable import Plugins

/// Compile errors: every error of a script with its line and column, in Pigeonhole's wording,
/// with its summary line; syntax errors stop before validation, as in Pigeonhole.
@Suite("Sieve compile errors")
struct SieveErrorTests {
    @Test func everyValidationErrorIsReportedWithLineAndColumn() throws {
        let e = try #require(SieveRun.compileError("""
            require "fileinto";
            fileinto 1;
            redirect;
              keep :foo;
            if size 3 { frob; }
            frob;
            require "fileinto";
            """))
        #expect(e.phase == "validation")
        #expect(e.all.map(\.line) == [2, 3, 4, 5, 5, 7], "\(e.report)")
        #expect(e.all.map(\.column) == [1, 1, 3, 4, 13, 1], "\(e.report)")
        // frob is reported once, at its first occurrence, as Pigeonhole does.
        #expect(e.all.filter { $0.message.contains("'frob'") }.count == 1)
        #expect(e.report.hasPrefix("test: line 2, column 1: error: "))
        #expect(e.report.hasSuffix("test: error: validation failed.\n"))
        #expect(e.report.split(separator: "\n").count == 7)
    }

    @Test func syntaxErrorsRecoverAtTheEndOfTheCommand() throws {
        let e = try #require(SieveRun.compileError("""
            require ["fileinto"];
            if header :bogus "a" "b" { keep; }
            fileinto;
            if true { stop }
            redirect "x@y";
            keep
            """))
        #expect(e.phase == "parse")
        // The validation errors on lines 2 and 3 are not reported: parsing failed first.
        #expect(e.all.map(\.line) == [4, 6], "\(e.report)")
        #expect(e.all.map(\.column) == [16, 5], "\(e.report)")
        #expect(e.message == "expected end of command ';' or the beginning of a compound block '{', but found '}'")
        #expect(e.all.last?.message == "expected end of command ';' or the beginning of a compound block '{', but found end of file")
        #expect(e.report.hasSuffix("test: error: parse failed.\n"))
    }

    /// A command written over several lines: the error's line is the argument's (as
    /// Pigeonhole says), and the column is where that argument starts.
    @Test func anArgumentOnALineOfItsOwnGetsItsColumn() throws {
        let e = try #require(SieveRun.compileError("require \"fileinto\";\nfileinto\n    :bogus \"Folder\";\nif header\n   :is \"subject\"\n   123 { keep; }\n"))
        #expect(e.all.map(\.line) == [3, 6], "\(e.report)")
        #expect(e.all.map(\.column) == [5, 4], "\(e.report)")
    }

    @Test func aLexicalErrorEndsParsingAsInPigeonhole() throws {
        let e = try #require(SieveRun.compileError("keep;\n  @\nkeep;\n  $ keep;\nkeep }\n"))
        #expect(e.all.map(\.line) == [2, 2], "\(e.report)")
        #expect(e.all.map(\.column) == [3, 3], "\(e.report)")
        #expect(e.all.last?.message == "unexpected unknown characters found at (the presumed) end of file")
        // An unterminated string runs to the end: one error.
        #expect(SieveRun.compileError("keep;\n\"abc\nkeep;\n")?.all.map(\.line) == [4])
    }

    @Test func aStrayBraceAtTheTopLevelEndsTheScript() throws {
        let e = try #require(SieveRun.compileError("keep;\n}\nkeep;\nfoo }\n"))
        #expect(e.all.map(\.description) == ["test: line 2, column 1: error: unexpected '}' found at (the presumed) end of file."])
        // After a broken command the `}` is the command's, and parsing goes on.
        #expect(SieveRun.compileError("keep;\nkeep }\nkeep;\nkeep }\n")?.all.map(\.line) == [2, 4])
    }

    @Test func errorsStopAtTheLimit() throws {
        let script = (1...150).map { "frob\($0);" }.joined(separator: "\n")
        let e = try #require(SieveRun.compileError(script))
        #expect(e.all.count == SieveError.maxErrors)
        #expect(e.all.last?.line == SieveError.maxErrors)
        let syntax = String(repeating: "keep }\n", count: 150)
        #expect(SieveRun.compileError(syntax)?.all.count == SieveError.maxErrors)
    }

    @Test func aScriptWithoutErrorsStillCompiles() {
        #expect(SieveRun.compileError("require \"fileinto\";\nif header :is \"x\" \"y\" { fileinto \"a\"; } else { keep; }\n") == nil)
    }
}

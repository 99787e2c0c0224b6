@testable import PgsqlTable
import Pipeline
import Testing

/// How a pgsql_table(5) query becomes a statement with parameters, and what each parameter
/// holds for a key (no server needed): the fixtures are the query, the key, the SQL sent and
/// the values bound, or nil when Postfix would not query at all.
@Suite("pgsql query templates")
struct PgsqlTemplateTests {
    static let fixtures: [(query: String, key: String, sql: String, values: [String]?)] = [
        ("SELECT a FROM t WHERE k = '%s'", "x'y\\z", "SELECT a FROM t WHERE k = $1", ["x'y\\z"]),
        ("SELECT a FROM t WHERE u = '%u' AND d = '%d'", "me@ex.org", "SELECT a FROM t WHERE u = $1 AND d = $2", ["me", "ex.org"]),
        ("SELECT a FROM t WHERE k = '%u@%d'", "me@ex.org", "SELECT a FROM t WHERE k = $1", ["me@ex.org"]),
        ("SELECT a FROM t WHERE u = '%u'", "plain", "SELECT a FROM t WHERE u = $1", ["plain"]),
        ("SELECT a FROM t WHERE d = '%d'", "plain", "SELECT a FROM t WHERE d = $1", nil),
        ("SELECT a FROM t WHERE u = '%u'", "@ex.org", "SELECT a FROM t WHERE u = $1", nil),
        ("SELECT a FROM t WHERE k = '%s'", "", "SELECT a FROM t WHERE k = $1", nil),
        ("SELECT a FROM t WHERE z = '%2.%1' AND h = '%3'", "a@mx.ex.org", "SELECT a FROM t WHERE z = $1 AND h = $2", ["ex.org", "mx"]),
        ("SELECT a FROM t WHERE z = '%3'", "a@ex.org", "SELECT a FROM t WHERE z = $1", nil),
        ("SELECT a FROM t WHERE k = %s", "1", "SELECT a FROM t WHERE k = $1", ["1"]),
        ("SELECT a FROM t WHERE k LIKE '50%%' AND j = 'it''s %s'", "x", "SELECT a FROM t WHERE k LIKE '50%' AND j = $1", ["it's x"]),
        ("SELECT \"we%%ird\" FROM t WHERE k = E'a\\\\'", "x", "SELECT \"we%ird\" FROM t WHERE k = E'a\\\\'", []),
        ("SELECT a FROM t WHERE k = '%S' OR u = '%U' OR d = '%D'", "A@B", "SELECT a FROM t WHERE k = $1 OR u = $2 OR d = $3", ["A@B", "A", "B"]),
    ]

    @Test(arguments: fixtures.indices)
    func rewritesAndBinds(_ i: Int) throws {
        let f = Self.fixtures[i]
        let t = try PgsqlQueryTemplate(f.query, file: "t.cf")
        #expect(t.sql == f.sql)
        #expect(t.bind(PgsqlKey(f.key)) == f.values)
    }

    @Test func resultFormat() throws {
        let key = PgsqlKey("list@example.com")
        let f = try PgsqlResultFormat("smtp:[%d] %u/%U/%D/%1/%S 100%%", file: "t.cf")
        #expect(f.format("bob@relay.example.net", key: key) == "smtp:[relay.example.net] bob/list/example.com/com/list@example.com 100%")
        #expect(f.format("nodomain", key: key) == nil)   // %d of a value without a domain: skipped
        #expect(f.format("", key: key) == nil)
        #expect(try PgsqlResultFormat("%s", file: "t.cf").format("x", key: key) == "x")
        #expect(throws: ConfigError.self) { try PgsqlResultFormat("%q", file: "t.cf") }
    }
}

import CPCRE2

/// A compiled PCRE2 pattern: the one place in mdad that talks to PCRE2 (pcre: tables,
/// SpamAssassin rules, procmail and Sieve regex tests all come here).
///
/// Compiled once, JIT-compiled when the JIT is available, then shared: PCRE2's compiled code
/// is read-only during matching and may be used from many threads at once. Match data is
/// per match (PCRE2 forbids sharing it), created inside ``firstMatch(in:from:)``.
///
/// Patterns are compiled with `PCRE2_UTF | PCRE2_MATCH_INVALID_UTF` by default: mail is not
/// always valid UTF-8, and with this option invalid sequences simply never match a character
/// instead of making the whole match fail.
public final class PCRERegex: @unchecked Sendable {
    // @unchecked: `code` and `context` are written only in init and freed in deinit; PCRE2
    // documents both as safe to share between threads while they are not modified.
    private let code: OpaquePointer
    private let context: OpaquePointer?
    /// The pattern as given.
    public let pattern: String
    /// True when the JIT compiled the pattern.
    public let isJIT: Bool

    /// Compile options, named after PCRE2's.
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `i`: case-insensitive.
        public static let caseless = Options(rawValue: UInt32(PCRE2_CASELESS))
        /// `m`: `^` and `$` match at line breaks.
        public static let multiline = Options(rawValue: UInt32(PCRE2_MULTILINE))
        /// `s`: `.` matches a line break.
        public static let dotAll = Options(rawValue: UInt32(PCRE2_DOTALL))
        /// `x`: blanks and `#` comments in the pattern are ignored.
        public static let extended = Options(rawValue: UInt32(PCRE2_EXTENDED))
        /// `\w`, `\b`, `\d` and POSIX classes use Unicode properties (Perl's behaviour on
        /// text strings) instead of ASCII only.
        public static let ucp = Options(rawValue: UInt32(PCRE2_UCP))
        /// `A` in pcre_table(5): the match must start at the start of the subject.
        public static let anchored = Options(rawValue: UInt32(PCRE2_ANCHORED))
        /// `E` in pcre_table(5): `$` matches only at the very end, not before a final newline.
        public static let dollarEndOnly = Options(rawValue: UInt32(PCRE2_DOLLAR_ENDONLY))
        /// `U` in pcre_table(5): quantifiers are lazy unless followed by `?`.
        public static let ungreedy = Options(rawValue: UInt32(PCRE2_UNGREEDY))
        /// UTF-8 mode, lenient with invalid input (the default).
        public static let utf = Options(rawValue: UInt32(PCRE2_UTF) | UInt32(PCRE2_MATCH_INVALID_UTF))
    }

    /// The limits of one match (PCRE2's match limit and depth limit), from configuration; they
    /// turn catastrophic backtracking into an error instead of a hung delivery.
    public struct Limits: Sendable {
        public var matchLimit: UInt32
        public var depthLimit: UInt32

        /// The limits main.cf sets (`pcre_match_limit`, `pcre_depth_limit`), checked with file
        /// and line.
        public init(_ configuration: Configuration) throws(ConfigError) {
            let m = try configuration.integer("pcre_match_limit")
            let d = try configuration.integer("pcre_depth_limit")
            guard m > 0, m <= Int(UInt32.max) else {
                throw configuration.error("pcre_match_limit", "pcre_match_limit = \(m); expected a number from 1 to \(UInt32.max)")
            }
            guard d > 0, d <= Int(UInt32.max) else {
                throw configuration.error("pcre_depth_limit", "pcre_depth_limit = \(d); expected a number from 1 to \(UInt32.max)")
            }
            self.init(matchLimit: UInt32(m), depthLimit: UInt32(d))
        }
        public init(matchLimit: UInt32 = 1_000_000, depthLimit: UInt32 = 10_000) {
            self.matchLimit = matchLimit
            self.depthLimit = depthLimit
        }
    }

    /// A pattern that does not compile, or a match that failed (a limit was hit).
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        /// PCRE2's error code.
        public let code: Int32
        /// PCRE2's message.
        public let message: String
        /// Where in the pattern compilation failed (bytes); nil for a match error.
        public let offset: Int?
        public let pattern: String

        public var description: String {
            if let offset { return "regex \"\(pattern)\": \(message) at offset \(offset)" }
            return "regex \"\(pattern)\": \(message)"
        }
    }

    /// One match: the byte ranges of the whole match (group 0) and of each capture group
    /// (nil for a group that did not take part).
    public struct Match: Sendable, Equatable {
        public let groups: [Range<Int>?]
        public var range: Range<Int> { groups[0]! }
    }

    public init(_ pattern: String, options: Options = [.utf], limits: Limits = Limits()) throws(Error) {
        self.pattern = pattern
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let compiled = pattern.withCString { p in
            p.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count + 1) { bytes in
                pcre2_compile_8(bytes, mdad_pcre2_zero_terminated(), options.rawValue, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            throw Error(code: errorCode, message: Self.message(errorCode), offset: errorOffset, pattern: pattern)
        }
        code = compiled
        isJIT = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0
        let ctx = pcre2_match_context_create_8(nil)
        if let ctx {
            pcre2_set_match_limit_8(ctx, limits.matchLimit)
            pcre2_set_depth_limit_8(ctx, limits.depthLimit)
        }
        context = ctx
    }

    deinit {
        pcre2_code_free_8(code)
        if let context { pcre2_match_context_free_8(context) }
    }

    static func message(_ code: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    /// The number of capture groups in the pattern, known at compile time; pcre: tables check
    /// their `$n` references against it when the table is opened.
    public var captureCount: Int {
        var n: UInt32 = 0
        return pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_CAPTURECOUNT), &n) == 0 ? Int(n) : 0
    }

    /// The first match in `subject` at or after byte `start`, nil when there is none.
    public func firstMatch(in subject: UnsafeRawBufferPointer, from start: Int = 0) throws(Error) -> Match? {
        guard let md = pcre2_match_data_create_from_pattern_8(code, nil) else {
            throw Error(code: PCRE2_ERROR_NOMEMORY, message: "out of memory", offset: nil, pattern: pattern)
        }
        defer { pcre2_match_data_free_8(md) }
        // An empty buffer may have no base address; PCRE2 needs a valid pointer anyway.
        var empty: UInt8 = 0
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc = withUnsafePointer(to: &empty) { e in
            pcre2_match_8(code, base ?? e, subject.count, start, 0, md, context)
        }
        if rc == PCRE2_ERROR_NOMATCH { return nil }
        if rc < 0 { throw Error(code: rc, message: Self.message(rc), offset: nil, pattern: pattern) }
        let count = Int(pcre2_get_ovector_count_8(md))
        let ov = pcre2_get_ovector_pointer_8(md)!
        let unset = mdad_pcre2_unset()
        var groups: [Range<Int>?] = []
        groups.reserveCapacity(count)
        for g in 0..<count {
            let s = ov[2 * g], e = ov[2 * g + 1]
            groups.append(s == unset || e < s ? nil : Int(s)..<Int(e))
        }
        return Match(groups: groups)
    }

    public func firstMatch(in subject: [UInt8], from start: Int = 0) throws(Error) -> Match? {
        // withUnsafeBytes rethrows untyped errors; carry the typed one through a Result.
        let r = subject.withUnsafeBytes { b in Result { () throws(Error) -> Match? in try firstMatch(in: b, from: start) } }
        return try r.get()
    }

    public func firstMatch(in subject: String) throws(Error) -> Match? {
        var s = subject
        let r = s.withUTF8 { b in Result { () throws(Error) -> Match? in try firstMatch(in: UnsafeRawBufferPointer(b)) } }
        return try r.get()
    }

    /// Match data for one thread to reuse across many matches (PCRE2 match data may not be
    /// shared between threads, and creating it for every match costs an allocation). Holds the
    /// whole match only.
    public final class Scratch {
        let data: OpaquePointer
        public init() {
            data = pcre2_match_data_create_8(1, nil)!
        }
        deinit { pcre2_match_data_free_8(data) }
    }

    /// The byte range of the first match in `subject` at or after `start`, using `scratch`
    /// instead of new match data: for code that runs many patterns over the same texts.
    public func firstMatchRange(in subject: UnsafeRawBufferPointer, from start: Int = 0, scratch: Scratch) throws(Error) -> Range<Int>? {
        var empty: UInt8 = 0
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc = withUnsafePointer(to: &empty) { e in
            pcre2_match_8(code, base ?? e, subject.count, start, 0, scratch.data, context)
        }
        if rc == PCRE2_ERROR_NOMATCH { return nil }
        if rc < 0 { throw Error(code: rc, message: Self.message(rc), offset: nil, pattern: pattern) }
        let ov = pcre2_get_ovector_pointer_8(scratch.data)!
        let s = Int(ov[0]), e = Int(ov[1])
        return s <= e ? s..<e : e..<e
    }

    /// True when the pattern matches anywhere in `subject`.
    public func matches(_ subject: String) throws(Error) -> Bool { try firstMatch(in: subject) != nil }

    public func matches(_ subject: [UInt8]) throws(Error) -> Bool { try firstMatch(in: subject) != nil }

    /// The text of each group of a match in `subject` (nil for a group that did not match).
    public func captures(in subject: String) throws(Error) -> [String?]? {
        let bytes = Array(subject.utf8)
        guard let m = try firstMatch(in: bytes) else { return nil }
        return m.groups.map { r in r.map { String(decoding: bytes[$0], as: UTF8.self) } }
    }
}

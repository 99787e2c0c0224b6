/// The parameters of a Content-Type or Content-Disposition field (RFC 2045 section 5.1), with
/// RFC 2231 continuations (`name*0=`, `name*1*=`) joined and extended values
/// (`name*=charset'language'%xx`) decoded to text.
public struct MIMEParameters: Sendable, Equatable {
    /// Name (lower case) and value, in order of first appearance; the first of a repeated
    /// name wins.
    public private(set) var entries: [(name: String, value: String)] = []

    /// No parameters.
    public init() {}

    public subscript(name: String) -> String? {
        let n = name.lowercased()
        return entries.first { $0.name == n }?.value
    }

    public static func == (a: MIMEParameters, b: MIMEParameters) -> Bool {
        a.entries.map(\.name) == b.entries.map(\.name) && a.entries.map(\.value) == b.entries.map(\.value)
    }

    /// The most parameters kept from one field; a hostile field cannot make more.
    public static let maxCount = 64

    /// Parses `; name=value; …` from `bytes[start...]`.
    static func parse(_ bytes: ArraySlice<UInt8>) -> MIMEParameters {
        // One raw segment of a (possibly continued) parameter.
        struct Segment { var index: Int; var extended: Bool; var value: [UInt8] }
        var order: [String] = []
        var segments: [String: [Segment]] = [:]
        var i = bytes.startIndex
        let end = bytes.endIndex

        func skipBlanksAndComments() {
            while i < end {
                let c = bytes[i]
                if c == 32 || c == 9 || c == 10 || c == 13 { i += 1; continue }
                if c == UInt8(ascii: "(") {
                    var depth = 0
                    while i < end {
                        let d = bytes[i]
                        if d == UInt8(ascii: "\\") { i = min(i + 2, end); continue }
                        if d == UInt8(ascii: "(") { depth += 1 }
                        if d == UInt8(ascii: ")") { depth -= 1; if depth == 0 { i += 1; break } }
                        i += 1
                    }
                    continue
                }
                return
            }
        }

        while i < end, order.count < maxCount {
            // Find the next ';'.
            while i < end, bytes[i] != UInt8(ascii: ";") { i += 1 }
            guard i < end else { break }
            i += 1
            skipBlanksAndComments()
            let nameStart = i
            while i < end, bytes[i] != UInt8(ascii: "="), bytes[i] != UInt8(ascii: ";"), bytes[i] > 32 { i += 1 }
            var name = String(decoding: bytes[nameStart..<i], as: UTF8.self).lowercased()
            skipBlanksAndComments()
            guard i < end, bytes[i] == UInt8(ascii: "=") else { continue }
            i += 1
            skipBlanksAndComments()
            var value: [UInt8] = []
            if i < end, bytes[i] == UInt8(ascii: "\"") {
                i += 1
                while i < end, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < end { i += 1 }
                    if bytes[i] != 10 && bytes[i] != 13 { value.append(bytes[i]) }
                    i += 1
                }
                if i < end { i += 1 }   // the closing quote, when there is one
            } else {
                // A token; leniently, anything up to ';' with the trailing blanks removed
                // (unquoted file names with spaces are common).
                while i < end, bytes[i] != UInt8(ascii: ";") {
                    if bytes[i] != 10 && bytes[i] != 13 { value.append(bytes[i]) }
                    i += 1
                }
                while let last = value.last, last == 32 || last == 9 { value.removeLast() }
            }
            guard !name.isEmpty else { continue }
            // RFC 2231 sections 3 and 4: name*N for continuations, a trailing '*' for an
            // extended (charset'language'percent-encoded) value.
            var extended = false
            var index = -1
            if name.hasSuffix("*") { extended = true; name.removeLast() }
            if let star = name.lastIndex(of: "*"), let n = Int(name[name.index(after: star)...]), n >= 0, n < 1000 {
                index = n
                name = String(name[..<star])
            }
            if segments[name] == nil { order.append(name); segments[name] = [] }
            if segments[name]!.count < 256 {
                segments[name]!.append(Segment(index: index, extended: extended, value: value))
            }
        }

        var result = MIMEParameters()
        for name in order {
            var segs = segments[name]!
            // A plain value (no index) and a continued one for the same name: the continued
            // one is the newer form (RFC 2231 section 4.1), so it wins.
            let continued = segs.filter { $0.index >= 0 }
            if !continued.isEmpty {
                segs = continued.sorted { $0.index < $1.index }
            } else {
                segs = [segs[0]]
            }
            var charset: String?
            var raw: [UInt8] = []
            var allPlain = true
            for (k, seg) in segs.enumerated() {
                guard seg.extended else { raw += seg.value; continue }
                allPlain = false
                var v = seg.value[...]
                if k == 0 {
                    // charset'language'value; both quotes must be there.
                    let quotes = v.indices.filter { v[$0] == UInt8(ascii: "'") }
                    if quotes.count >= 2 {
                        charset = String(decoding: v[v.startIndex..<quotes[0]], as: UTF8.self)
                        v = v[(quotes[1] + 1)...]
                    }
                }
                raw += percentDecode(v)
            }
            let value: String
            if allPlain {
                // Not RFC 2231, but common: RFC 2047 encoded words inside a quoted file name.
                value = EncodedWord.decode(raw)
            } else {
                value = Charset.decode(raw, charset: charset?.isEmpty == false ? charset : "utf-8")
            }
            result.entries.append((name, value))
        }
        return result
    }

    static func percentDecode(_ v: ArraySlice<UInt8>) -> [UInt8] {
        TransferDecoder.decodeHexEscapes(v, marker: UInt8(ascii: "%"))
    }
}

/// A Content-Type field value (RFC 2045 section 5): `type/subtype` and parameters.
public struct ContentType: Sendable, Equatable {
    /// The media type, lower case (`text`, `multipart` …).
    public var type: String
    /// The subtype, lower case.
    public var subtype: String
    public var parameters: MIMEParameters

    public init(type: String, subtype: String, parameters: MIMEParameters = MIMEParameters()) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    /// `type/subtype`.
    public var mimeType: String { type + "/" + subtype }

    public var isMultipart: Bool { type == "multipart" }
    public var isText: Bool { type == "text" }
    /// A part whose body is itself a message (RFC 2046 section 5.2.1).
    public var isMessage: Bool { type == "message" && (subtype == "rfc822" || subtype == "global") }

    public var charset: String? { parameters["charset"] }
    /// The multipart boundary, as RFC 2046 gives it: case-sensitive, trailing blanks removed.
    public var boundary: String? {
        guard var b = parameters["boundary"] else { return nil }
        while b.hasSuffix(" ") || b.hasSuffix("\t") { b.removeLast() }
        return b.isEmpty ? nil : b
    }

    /// RFC 2045 section 5.2: "Default RFC 822 messages without a MIME Content-Type header are
    /// taken by this protocol to be plain text in the US-ASCII character set".
    public static let textPlain = ContentType(type: "text", subtype: "plain")
    /// RFC 2046 section 5.1.5: in a multipart/digest "the default Content-Type value for a
    /// body part is changed from text/plain to message/rfc822".
    public static let messageRFC822 = ContentType(type: "message", subtype: "rfc822")

    /// Parses a field value; nil when there is no `type/subtype` (the caller then uses the
    /// default, as RFC 2045 section 5.2 asks for a syntactically invalid field).
    public static func parse(_ raw: ArraySlice<UInt8>) -> ContentType? {
        var i = raw.startIndex
        func token() -> String {
            while i < raw.endIndex, raw[i] == 32 || raw[i] == 9 || raw[i] == 10 || raw[i] == 13 { i += 1 }
            let s = i
            while i < raw.endIndex, raw[i] > 32, raw[i] != UInt8(ascii: "/"), raw[i] != UInt8(ascii: ";"),
                  raw[i] != UInt8(ascii: "(") { i += 1 }
            return String(decoding: raw[s..<i], as: UTF8.self).lowercased()
        }
        let type = token()
        while i < raw.endIndex, raw[i] == 32 || raw[i] == 9 { i += 1 }
        guard !type.isEmpty, i < raw.endIndex, raw[i] == UInt8(ascii: "/") else { return nil }
        i += 1
        let subtype = token()
        guard !subtype.isEmpty else { return nil }
        return ContentType(type: type, subtype: subtype, parameters: MIMEParameters.parse(raw[i...]))
    }

    /// Parses a field value given as a string.
    public static func parse(_ value: String) -> ContentType? { parse(Array(value.utf8)[...]) }
}

/// A Content-Disposition field value (RFC 2183): `inline` or `attachment`, and parameters.
public struct ContentDisposition: Sendable, Equatable {
    /// The disposition type, lower case.
    public var type: String
    public var parameters: MIMEParameters

    public var isAttachment: Bool { type == "attachment" }
    public var filename: String? { parameters["filename"] }

    /// Parses a field value; never fails (an empty type is kept, and readers treat a
    /// disposition they do not know as `attachment`, RFC 2183 section 2.8).
    public static func parse(_ raw: ArraySlice<UInt8>) -> ContentDisposition {
        var i = raw.startIndex
        while i < raw.endIndex, raw[i] == 32 || raw[i] == 9 { i += 1 }
        let s = i
        while i < raw.endIndex, raw[i] > 32, raw[i] != UInt8(ascii: ";") { i += 1 }
        return ContentDisposition(type: String(decoding: raw[s..<i], as: UTF8.self).lowercased(),
                                  parameters: MIMEParameters.parse(raw[i...]))
    }
}

/// One header field, kept as the bytes it arrived as.
///
/// A field that nobody changes is written back byte for byte (folding, spacing and 8-bit bytes
/// included); only fields a stage builds or rewrites get new bytes.
public struct HeaderField: Sendable, Equatable {
    /// The field name as written (case preserved); compare with `hasName(_:)`.
    public let name: String
    /// The complete field: name, colon, value and every continuation line, each with its original
    /// line ending (the last line may lack one at the end of a message with no body).
    public let raw: [UInt8]
    /// Offset of the first value byte (just after the colon) in `raw`.
    let valueStart: Int

    init(name: String, raw: [UInt8], valueStart: Int) {
        self.name = name
        self.raw = raw
        self.valueStart = valueStart
    }

    /// A new field, written as `Name: value` and a line feed.
    ///
    /// The value must not contain CR or LF: header text comes from envelopes and lookups, and a
    /// newline there would let one value inject another header.
    /// With `crlf`, the field ends in CR LF, to sit among the fields of a CRLF message.
    public init(name: String, value: String, crlf: Bool = false) throws(HeaderError) {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw HeaderError("bad header name \"\(name)\"; expected printable ASCII without ':'")
        }
        guard !value.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else {
            throw HeaderError("header \(name): value contains a line break or NUL")
        }
        self.name = name
        let prefix = Array(name.utf8) + [UInt8(ascii: ":")]
        self.raw = prefix + Array((" " + value + (crlf ? "\r\n" : "\n")).utf8)
        self.valueStart = prefix.count
    }

    /// Whether the field's lines end in CR LF.
    public var endsWithCRLF: Bool { raw.count >= 2 && raw[raw.count - 2] == 13 && raw[raw.count - 1] == 10 }

    /// A new folded field: `value` may contain line breaks, each followed by a tab or space
    /// (a trace field written over several lines). Any other line break or a NUL is refused.
    public init(name: String, multilineValue value: String) throws(HeaderError) {
        let lines = value.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() {
            if line.utf8.contains(where: { $0 == 13 || $0 == 0 }) { throw HeaderError("header \(name): value contains CR or NUL") }
            if i > 0, !(line.first == "\t" || line.first == " ") { throw HeaderError("header \(name): a continuation line must start with whitespace") }
        }
        let single = try HeaderField(name: name, value: "x")
        self.name = single.name
        let prefix = Array(name.utf8) + [UInt8(ascii: ":")]
        self.raw = prefix + Array((" " + value + "\n").utf8)
        self.valueStart = prefix.count
    }

    /// Case-insensitive name comparison (RFC 5322 field names are case-insensitive).
    public func hasName(_ other: String) -> Bool {
        name.utf8.count == other.utf8.count && name.lowercased() == other.lowercased()
    }

    /// The value bytes as they appear after the colon, line breaks included.
    public var rawValue: ArraySlice<UInt8> { raw[valueStart...] }

    /// The value unfolded (RFC 5322 section 2.2.3: CRLF before whitespace removed), with
    /// leading and trailing whitespace trimmed; bytes that are not UTF-8 become U+FFFD.
    public var value: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count - valueStart)
        for b in rawValue where b != 10 && b != 13 { bytes.append(b) }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }
}

/// A header that cannot be built (bad name, or a value that would break the header).
public struct HeaderError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The header section of a message: an ordered list of fields, duplicates allowed.
public struct HeaderSection: Sendable, Equatable {
    public var fields: [HeaderField]

    public init(_ fields: [HeaderField] = []) { self.fields = fields }

    /// The first field with this name (case-insensitive).
    public subscript(name: String) -> HeaderField? { fields.first { $0.hasName(name) } }

    /// Every field with this name, in order.
    public func all(_ name: String) -> [HeaderField] { fields.filter { $0.hasName(name) } }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Adds a field at the end of the section.
    public mutating func append(_ field: HeaderField) { fields.append(field) }

    /// Adds a field at the top of the section, where trace fields go.
    public mutating func prepend(_ field: HeaderField) { fields.insert(field, at: 0) }

    /// Removes every field with this name; returns how many were removed.
    @discardableResult
    public mutating func removeAll(_ name: String) -> Int {
        let before = fields.count
        fields.removeAll { $0.hasName(name) }
        return before - fields.count
    }

    /// The bytes of the section as it stands; unchanged fields are their original bytes.
    public var bytes: [UInt8] { fields.flatMap(\.raw) }
}

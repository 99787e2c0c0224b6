import NIOCore
import PostgresNIO

/// A column value as the text libpq's PQgetvalue would give Postfix. postgres-nio asks for
/// results in binary form, so the types a mail table holds are turned back into their text
/// form here; any other built-in type must be cast in the query (`SELECT x::text`).
enum PgsqlValue {
    struct Unreadable: Error, Sendable {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// The text of a cell, or nil for SQL NULL (which Postfix skips, as an empty value).
    static func text(_ cell: PostgresCell) throws(Unreadable) -> String? {
        guard var b = cell.bytes else { return nil }
        if cell.format == .text { return b.readString(length: b.readableBytes) }
        switch cell.dataType {
        case .text, .varchar, .bpchar, .name, .unknown, .json, .xml:
            return b.readString(length: b.readableBytes)
        case .jsonb:
            b.moveReaderIndex(forwardBy: min(1, b.readableBytes))   // the version byte
            return b.readString(length: b.readableBytes)
        case .bool:
            return b.readInteger(as: UInt8.self).map { $0 != 0 ? "t" : "f" }
        case .int2:
            return b.readInteger(as: Int16.self).map { String($0) }
        case .int4:
            return b.readInteger(as: Int32.self).map { String($0) }
        case .int8:
            return b.readInteger(as: Int64.self).map { String($0) }
        case .oid:
            return b.readInteger(as: UInt32.self).map { String($0) }
        case .float4:
            return b.readInteger(as: UInt32.self).map { "\(Float(bitPattern: $0))" }
        case .float8:
            return b.readInteger(as: UInt64.self).map { "\(Double(bitPattern: $0))" }
        case .uuid:
            guard let bytes = b.readBytes(length: 16) else { break }
            let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            var out = ""
            for (i, c) in hex.enumerated() {
                if [8, 12, 16, 20].contains(i) { out.append("-") }
                out.append(c)
            }
            return out
        default:
            // Types made in the database (enums, citext, …) send their text as is.
            if cell.dataType.rawValue >= 16384 { return b.readString(length: b.readableBytes) }
        }
        throw Unreadable("column \"\(cell.columnName)\" has type \(cell.dataType) mdad cannot read as text; cast it in the query (\(cell.columnName)::text)")
    }
}

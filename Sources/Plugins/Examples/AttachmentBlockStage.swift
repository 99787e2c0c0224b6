import Pipeline

/// Refuses mail that carries an attachment of a blocked type — a worked example of a message
/// stage, and useful on its own (Postfix admins do this with `mime_header_checks`).
///
///     pipeline = attachments, aliases, rules
///     attachment_block_extensions = exe, scr, js, vbs
///     attachment_block_types = application/x-msdownload
///
/// Every MIME part is looked at, nested ones too (a forwarded message, a multipart inside a
/// multipart), with the MIME parser's limits on depth and part count. A part is blocked when
/// its file name (Content-Disposition `filename` or Content-Type `name`, RFC 2231 and encoded
/// words decoded) ends in a listed extension, or when its content type is listed. The message
/// is refused with 5.7.1 and the part's name, as Postfix's `REJECT` in mime_header_checks.
public struct AttachmentBlockStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("attachment_block_extensions", .list,
              default: "ade, adp, bat, chm, cmd, com, cpl, exe, hta, ins, isp, jar, js, jse, lib, lnk, mde, msc, msi, msp, mst, pif, scr, sct, shb, sys, vb, vbe, vbs, vxd, wsc, wsf, wsh",
              "File name extensions the attachments stage refuses (case-insensitive, without the dot)."),
        .init("attachment_block_types", .list, default: "",
              "Content types the attachments stage refuses (type/subtype, case-insensitive)."),
    ]

    public let extensions: Set<String>
    public let types: Set<String>

    public init(configuration config: Configuration) throws {
        self.init(extensions: try config.list("attachment_block_extensions"),
                  types: try config.list("attachment_block_types"))
    }

    public init(extensions: [String], types: [String] = []) {
        self.extensions = Set(extensions.map { $0.lowercased().drop { $0 == "." } }.map(String.init))
        self.types = Set(types.map { $0.lowercased() })
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        let structure = try MIMEStructure.parse(transaction.message)
        for part in structure.parts {
            if let reason = blocked(part) {
                transaction.trace(.match, "MIME part \(part.index): \(reason)")
                context.logger.info("\(transaction.queueID): reject: \(reason)")
                throw DeliveryStatus(.policyRejection, "message content rejected: \(reason)")
            }
        }
        return .continue
    }

    /// Why a part is blocked, or nil.
    func blocked(_ part: MIMEPart) -> String? {
        let type = "\(part.contentType.type)/\(part.contentType.subtype)".lowercased()
        if part.hasContentType, types.contains(type) { return "attachment of type \(type)" }
        guard let name = part.filename, let dot = name.lastIndex(of: ".") else { return nil }
        // Trailing dots and blanks are dropped by Windows: "invoice.exe." runs as an .exe.
        let ext = name[name.index(after: dot)...].lowercased()
        let trimmed = name.reversed().drop { $0 == "." || $0 == " " }
        let effective = trimmed.firstIndex(of: ".").map { String(trimmed[..<$0].reversed()).lowercased() } ?? ext
        if extensions.contains(ext) || extensions.contains(effective) {
            return "attachment \"\(name.replacingControlCharacters())\" (.\(extensions.contains(ext) ? ext : effective) files are not accepted)"
        }
        return nil
    }
}

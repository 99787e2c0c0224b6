import Pipeline

/// Prefixes the Subject of mailing-list mail with the list's name — `[golang-nuts] Re: …` —
/// a worked example of a stage that changes the message, and useful on its own for lists that
/// do not tag their subjects.
///
///     pipeline = aliases, listtag, rules
///     list_tag_lists = golang-nuts.googlegroups.com, *.lists.debian.org
///
/// A message is list mail when it has a `List-Id` (RFC 2919): `Go Nuts <golang-nuts.googlegroups.com>`.
/// The tag is the first label of the list's identifier in brackets. When `list_tag_lists` is
/// set, only those lists are tagged (`*.domain` matches any list under it). A subject that
/// already carries the tag anywhere (replies: `Re: [x] …`) is left alone, so tags never pile up.
public struct ListTagStage: Stage {
    public static let parameters: [ParameterDeclaration] = [
        .init("list_tag_lists", .list, default: "",
              "List-Id identifiers the listtag stage tags (*.domain for any under it); empty tags every list."),
    ]

    public let lists: [String]

    public init(configuration config: Configuration) throws {
        self.init(lists: try config.list("list_tag_lists"))
    }

    public init(lists: [String] = []) {
        self.lists = lists.map { $0.lowercased() }
    }

    public func process(_ transaction: inout Transaction, context: StageContext) async throws -> StageVerdict {
        guard let id = Self.listID(transaction.message.header["List-Id"]?.value), selected(id) else { return .continue }
        let tag = "[\(id.prefix { $0 != "." })]"
        let header = transaction.message.header
        let subject = header["Subject"]?.value ?? ""
        guard !subject.lowercased().contains(tag.lowercased()) else {
            transaction.trace(.note, "Subject already carries \(tag)")
            return .continue
        }
        var fields = header.fields
        let tagged = try HeaderField(name: "Subject", value: subject.isEmpty ? tag : "\(tag) \(subject)")
        if let i = fields.firstIndex(where: { $0.hasName("Subject") }) { fields[i] = tagged } else { fields.append(tagged) }
        transaction.message.header.fields = fields
        transaction.trace(.header, "List-Id <\(id)>: Subject tagged \(tag)")
        return .continue
    }

    /// The identifier in a List-Id value: what is inside the angle brackets (or the whole value).
    static func listID(_ value: String?) -> String? {
        guard let v = value else { return nil }
        var id = Substring(v)
        if let open = v.lastIndex(of: "<"), let close = v.lastIndex(of: ">"), open < close {
            id = v[v.index(after: open)..<close]
        }
        let s = id.trimmingWhitespace().lowercased()
        // A tag goes into a header line: only the characters a list identifier may have.
        guard !s.isEmpty, s.count <= 255,
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else { return nil }
        return s
    }

    func selected(_ id: String) -> Bool {
        lists.isEmpty || lists.contains { p in
            p.hasPrefix("*.") ? id.hasSuffix(String(p.dropFirst(1))) : p == id
        }
    }
}

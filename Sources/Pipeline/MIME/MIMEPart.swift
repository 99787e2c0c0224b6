/// One entity of a message's MIME structure (RFC 2045 section 2.4): the message itself, a body
/// part of a multipart, or the message inside a message/rfc822 part.
///
/// A part records where its header and body lie in the spool; nothing of the body is held in
/// memory. Decode it on demand with ``MIMEStructure/decodedBody(of:limit:)`` and
/// ``MIMEStructure/text(of:limit:)``.
public struct MIMEPart: Sendable {
    /// Position in ``MIMEStructure/parts`` (depth-first order; the message is 0).
    public let index: Int
    /// The enclosing multipart or message/rfc822 part; nil for the message.
    public let parent: Int?
    /// 0 for the message, 1 for its body parts, and so on.
    public let depth: Int
    /// Where the part's header section starts in the spool.
    public let headerOffset: Int
    /// The part's header fields (the message's own header for part 0).
    public internal(set) var header: HeaderSection = HeaderSection()
    /// Where the body starts in the spool.
    public internal(set) var bodyOffset: Int
    /// Where the body ends (exclusive). RFC 2046 section 5.1.1: "the CRLF preceding the
    /// boundary delimiter line is conceptually attached to the boundary", so it is not body.
    public internal(set) var bodyEnd: Int
    /// The Content-Type in effect: the first Content-Type field when it parses, otherwise the
    /// default (text/plain, or message/rfc822 inside a multipart/digest).
    public internal(set) var contentType: ContentType = .textPlain
    /// True when the part had a Content-Type field that parsed.
    public internal(set) var hasContentType = false
    public internal(set) var transferEncoding: ContentTransferEncoding = .sevenBit
    public internal(set) var disposition: ContentDisposition?
    /// Sub-parts: the body parts of a multipart, the message of a message/rfc822.
    public internal(set) var children: [Int] = []
    /// True for a multipart or message/rfc822 whose structure was not parsed (no boundary, or
    /// past the depth limit): its body is content like any leaf's, so that text hidden behind
    /// a hundred levels of nesting still reaches the rules.
    public internal(set) var isOpaque = false

    init(index: Int, parent: Int?, depth: Int, headerOffset: Int) {
        self.index = index
        self.parent = parent
        self.depth = depth
        self.headerOffset = headerOffset
        self.bodyOffset = headerOffset
        self.bodyEnd = headerOffset
    }

    public var bodySize: Int { bodyEnd - bodyOffset }

    /// The file name: Content-Disposition's `filename`, else Content-Type's `name`.
    public var filename: String? { disposition?.filename ?? contentType.parameters["name"] }

    /// True for an attachment rather than text meant to be read inline.
    public var isAttachment: Bool { disposition?.isAttachment ?? false }

    /// True when the part has no sub-parts of its own (its body is content, not structure).
    public var isLeaf: Bool { isOpaque || (children.isEmpty && !contentType.isMultipart && !contentType.isMessage) }
}

/// What was wrong with a message's MIME structure. None of these refuses mail; they are
/// recorded so that rules (and the spam stage) can test for them.
public struct MIMEDefects: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// A multipart ended without its close delimiter (`--boundary--`).
    public static let missingFinalBoundary = MIMEDefects(rawValue: 1 << 0)
    /// A multipart without a usable boundary parameter; its body is taken as one opaque part.
    public static let missingBoundary = MIMEDefects(rawValue: 1 << 1)
    /// Nesting deeper than ``MIMEStructure/Limits/maxDepth``; deeper structure is opaque.
    public static let depthLimit = MIMEDefects(rawValue: 1 << 2)
    /// More parts than ``MIMEStructure/Limits/maxParts``; the scan stopped there.
    public static let partLimit = MIMEDefects(rawValue: 1 << 3)
    /// A part header larger than ``MIMEStructure/Limits/maxHeaderSize``; the rest is body.
    public static let headerLimit = MIMEDefects(rawValue: 1 << 4)
    /// A part header that ended at a line that was not a header field, without an empty line.
    public static let missingHeaderSeparator = MIMEDefects(rawValue: 1 << 5)
    /// More than one Content-Type field in one part; the first is used.
    public static let duplicateContentType = MIMEDefects(rawValue: 1 << 6)
}

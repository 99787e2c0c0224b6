import Testing
@testable import Pipeline

/// A structure fixture: the message, and for each part "depth type/subtype body" where body
/// is the decoded text of a leaf (nil for a multipart or message/rfc822).
struct StructureFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let message: String
    let parts: [String]
    var defects: MIMEDefects = []
    var testDescription: String { name }
}

let structureFixtures: [StructureFixture] = [
    .init(name: "no MIME", message: "Subject: x\n\nhello\n", parts: ["0 text/plain hello\n"]),
    .init(name: "multipart/alternative", message: """
        Content-Type: multipart/alternative; boundary="b1"

        preamble
        --b1
        Content-Type: text/plain

        plain
        --b1
        Content-Type: text/html

        <p>html</p>
        --b1--
        epilogue

        """, parts: ["0 multipart/alternative", "1 text/plain plain", "1 text/html <p>html</p>"]),
    .init(name: "CRLF line endings", message: "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n\r\n--x--\r\n",
          parts: ["0 multipart/mixed", "1 text/plain one", "1 text/plain two\r\n"]),
    .init(name: "nested multipart", message: """
        Content-Type: multipart/mixed; boundary=outer

        --outer
        Content-Type: multipart/alternative; boundary=inner

        --inner

        a
        --inner

        b
        --inner--
        --outer
        Content-Type: application/pdf; name=x.pdf
        Content-Transfer-Encoding: base64

        JVBERg==
        --outer--

        """, parts: ["0 multipart/mixed", "1 multipart/alternative", "2 text/plain a", "2 text/plain b", "1 application/pdf %PDF"]),
    .init(name: "missing final boundary", message: """
        Content-Type: multipart/mixed; boundary=b

        --b

        one
        --b

        two

        """, parts: ["0 multipart/mixed", "1 text/plain one", "1 text/plain two\n"], defects: [.missingFinalBoundary]),
    .init(name: "inner boundary never closed: the outer one closes it", message: """
        Content-Type: multipart/mixed; boundary=outer

        --outer
        Content-Type: multipart/alternative; boundary=inner

        --inner

        a
        --outer

        b
        --outer--

        """, parts: ["0 multipart/mixed", "1 multipart/alternative", "2 text/plain a", "1 text/plain b"], defects: [.missingFinalBoundary]),
    .init(name: "boundary-like lines that are not boundaries", message: """
        Content-Type: multipart/mixed; boundary=b

        --b is mentioned in the preamble
        --b

        --bb not ours
        --b junk
        --b\t
        Content-Type: text/plain

        x
        --b--

        """, parts: ["0 multipart/mixed", "1 text/plain --bb not ours\n--b junk", "1 text/plain x"]),
    .init(name: "boundary that prefixes the inner boundary", message: """
        Content-Type: multipart/mixed; boundary=abc

        --abc
        Content-Type: multipart/mixed; boundary=abcdef

        --abcdef

        inner
        --abcdef--
        --abc--

        """, parts: ["0 multipart/mixed", "1 multipart/mixed", "2 text/plain inner"]),
    .init(name: "duplicate Content-Type: the first wins", message: """
        Content-Type: text/plain
        Content-Type: multipart/mixed; boundary=b

        --b

        x
        --b--

        """, parts: ["0 text/plain --b\n\nx\n--b--\n"], defects: [.duplicateContentType]),
    .init(name: "multipart without boundary", message: "Content-Type: multipart/mixed\n\nbody\n",
          parts: ["0 multipart/mixed"], defects: [.missingBoundary]),
    .init(name: "message/rfc822", message: """
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: message/rfc822

        Subject: inner
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        caf=C3=A9
        --b--

        """, parts: ["0 multipart/mixed", "1 message/rfc822", "2 text/plain café"]),
    .init(name: "digest defaults to message/rfc822", message: """
        Content-Type: multipart/digest; boundary=d

        --d

        Subject: one

        first
        --d--

        """, parts: ["0 multipart/digest", "1 message/rfc822", "2 text/plain first"]),
    .init(name: "part header without blank line", message: """
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain
        this line is body
        --b--

        """, parts: ["0 multipart/mixed", "1 text/plain this line is body"], defects: [.missingHeaderSeparator]),
    .init(name: "part with no header", message: "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
          parts: ["0 multipart/mixed", "1 text/plain x"]),
    .init(name: "empty part", message: "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n",
          parts: ["0 multipart/mixed", "1 text/plain "]),
    .init(name: "boundary with transport padding and close at EOF", message: "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b  \n\nx\n--b--",
          parts: ["0 multipart/mixed", "1 text/plain x"]),
]

func describe(_ s: MIMEStructure) throws -> [String] {
    try s.parts.map { p in
        let head = "\(p.depth) \(p.contentType.mimeType)"
        guard p.isLeaf, !p.contentType.isMultipart else { return head }
        return head + " " + (try s.text(of: p))
    }
}

@Suite("MIME structure")
struct MIMEStructureTests {
    @Test(arguments: structureFixtures)
    func structure(_ f: StructureFixture) throws {
        let m = try Message.literal(f.message)
        let s = try MIMEStructure.parse(m)
        #expect(try describe(s) == f.parts)
        #expect(s.defects == f.defects)
    }

    /// The same structure whatever the spool's chunking: a spool on disk is read in 64 KB
    /// chunks, so a boundary that straddles two chunks must still be found.
    @Test func boundaryAcrossChunks() throws {
        let filler = String(repeating: "y", count: 65_530)
        let text = "Content-Type: multipart/mixed; boundary=bound\r\n\r\n--bound\r\n\r\n\(filler)\r\n--bound\r\n\r\nz\r\n--bound--\r\n"
        for pad in 0..<12 {
            // A header field of varying length moves the boundary across the 64 KB mark.
            let m = try Message.literal("X-Pad: " + String(repeating: "p", count: pad) + "\r\n" + text)
            let s = try MIMEStructure.parse(m)
            try #require(s.parts.count == 3, "pad \(pad)")
            #expect(try s.text(of: s.parts[1]).utf8.count == 65_530, "pad \(pad)")
            #expect(try s.text(of: s.parts[2]) == "z", "pad \(pad)")
        }
    }

    @Test func partsRecordOffsets() throws {
        let text = "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: 1\n\nabc\n--b--\n"
        let s = try MIMEStructure.parse(try Message.literal(text))
        let p = s.parts[1]
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[p.headerOffset..<p.bodyOffset], as: UTF8.self) == "X: 1\n\n")
        #expect(String(decoding: bytes[p.bodyOffset..<p.bodyEnd], as: UTF8.self) == "abc")
        #expect(p.header["x"]?.value == "1")
    }

    // MARK: hostile input

    @Test func tenThousandNestedMultipartsAreCutAtTheDepthLimit() throws {
        var text = "Content-Type: multipart/mixed; boundary=b0\n\n"
        for i in 1...10_000 { text += "--b\(i - 1)\nContent-Type: multipart/mixed; boundary=b\(i)\n\n" }
        text += "--b10000\n\ndeep\n"
        for i in stride(from: 10_000, through: 0, by: -1) { text += "--b\(i)--\n" }
        let s = try MIMEStructure.parse(try Message.literal(text))
        #expect(s.defects.contains(.depthLimit))
        #expect(s.parts.map(\.depth).max() == MIMEStructure.Limits().maxDepth)
        #expect(s.parts.count == MIMEStructure.Limits().maxDepth + 1)
        // The text below the limit is not hidden from the rules.
        #expect(s.parts.last!.isOpaque)
        #expect(try MessageText(message: try Message.literal(text), structure: s).body.contains("\ndeep\n"))
    }

    @Test func tenThousandNestedMessagesAreCutAtTheDepthLimit() throws {
        let text = String(repeating: "Content-Type: message/rfc822\n\n", count: 10_000) + "body\n"
        let s = try MIMEStructure.parse(try Message.literal(text))
        #expect(s.defects.contains(.depthLimit))
        #expect(s.parts.count == MIMEStructure.Limits().maxDepth + 1)
    }

    @Test func tenThousandSiblingPartsStopAtThePartLimit() throws {
        let text = "Content-Type: multipart/mixed; boundary=b\n\n" + String(repeating: "--b\n\nx\n", count: 10_000) + "--b--\n"
        let limits = MIMEStructure.Limits(maxParts: 1_000)
        let s = try MIMEStructure.parse(try Message.literal(text), limits: limits)
        #expect(s.parts.count == 1_000)
        #expect(s.defects.contains(.partLimit))
        let all = try MIMEStructure.parse(try Message.literal(text))
        #expect(all.parts.count == 5_000)
    }

    @Test func hugePartHeaderBecomesBody() throws {
        let text = "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: " + String(repeating: "a", count: 200_000) + "\n\nbody\n--b--\n"
        let s = try MIMEStructure.parse(try Message.literal(text))
        #expect(s.defects.contains(.headerLimit))
        #expect(s.parts.count == 2)
        #expect(s.parts[1].header.fields.isEmpty)
    }

    /// A 50 MB base64 body on one line: the scan keeps only a line prefix, decoding for the
    /// text views stops at the limit and reads only what it needs.
    @Test func fiftyMegabyteBase64LineIsBounded() throws {
        let header = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
        var bytes = Array(header.utf8)
        let line = [UInt8](repeating: UInt8(ascii: "Q"), count: 50 << 20)   // "QQQQ" decodes to "A\u{10}A…"
        bytes += line
        bytes += Array("\n--b--\n".utf8)
        let m = try Message.parse(Spool(bytes: bytes))
        let s = try MIMEStructure.parse(m)
        #expect(s.parts.count == 2)
        #expect(s.parts[1].bodySize == line.count)
        let (decoded, truncated) = try s.decodedBody(of: s.parts[1], limit: 1 << 20)
        #expect(truncated)
        #expect(decoded.count == 1 << 20)
        let views = try MessageText(message: m, structure: s)
        let (truncatedViews, bodySize, rawSize) = (views.truncated, views.body.utf8.count, views.rawBody.count)
        #expect(truncatedViews)
        #expect(bodySize <= 3 << 20)
        #expect(rawSize == 1 << 20)
    }
}

@Suite("MIME structure over a spool on disk")
struct MIMESpooledTests {
    /// The same message spooled to a file (64 KB reads) and held in memory gives the same
    /// structure and the same decoded bodies.
    @Test func fileSpoolMatchesMemorySpool() throws {
        var text = "Content-Type: multipart/mixed; boundary=b\n\n"
        for i in 0..<40 {
            text += "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            text += String(repeating: "caf=C3=A9 \(i) =\n", count: 300 + i * 37) + "\n"
        }
        text += "--b--\n"
        let bytes = Array(text.utf8)
        var writer = SpoolWriter(memoryLimit: 1024, sizeLimit: 0, directory: "/tmp")
        try writer.append(bytes)
        let fileSpool = writer.finish()
        #expect(!fileSpool.isInMemory)
        let a = try MIMEStructure.parse(try Message.parse(fileSpool))
        let b = try MIMEStructure.parse(try Message.parse(Spool(bytes: bytes)))
        #expect(a.parts.count == 41)
        #expect(a.parts.map(\.bodyOffset) == b.parts.map(\.bodyOffset))
        #expect(a.parts.map(\.bodyEnd) == b.parts.map(\.bodyEnd))
        for (pa, pb) in zip(a.parts, b.parts) where pa.isLeaf {
            #expect(try a.text(of: pa) == b.text(of: pb))
        }
        // Streaming decode gives what the bounded decode gives.
        var streamed: [UInt8] = []
        try a.forEachDecodedChunk(of: a.parts[40]) { streamed.append(contentsOf: $0); return true }
        #expect(streamed == (try a.decodedBody(of: a.parts[40]).bytes))
        #expect(String(decoding: streamed.prefix(18), as: UTF8.self) == "café 39 café 39 ")
    }
}

// MIME parse-and-decode benchmark (run by bench/mime.sh; not a test).
//
//   MIMEBench generate DIR COUNT   write a mixed corpus of COUNT messages (2 KB to 2 MB)
//   MIMEBench run DIR              parse and decode every message in DIR, print throughput
//   MIMEBench generate-big FILE MB write one message of about MB megabytes
//   MIMEBench big FILE             spool FILE to disk as `mdad deliver` does, parse and decode
//                                  it, print peak resident memory before and after
//
// Output lines are `key value` pairs that bench/mime.sh reads.
#if canImport(Glibc)
import Glibc
#endif
import Pipeline

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Peak resident set size so far, in KB (getrusage ru_maxrss).
func maxRSS() -> Int {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return u.ru_maxrss
}

/// Deterministic pseudo-random bytes (a 64-bit LCG), so every run sees the same corpus.
struct LCG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

func base64Lines(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(data.count * 4 / 3 + data.count / 38 + 8)
    var i = 0
    var col = 0
    while i < data.count {
        let b0 = UInt32(data[i]), b1 = i + 1 < data.count ? UInt32(data[i + 1]) : 0, b2 = i + 2 < data.count ? UInt32(data[i + 2]) : 0
        let v = b0 << 16 | b1 << 8 | b2
        out.append(base64Alphabet[Int(v >> 18 & 63)])
        out.append(base64Alphabet[Int(v >> 12 & 63)])
        out.append(i + 1 < data.count ? base64Alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
        out.append(i + 2 < data.count ? base64Alphabet[Int(v & 63)] : UInt8(ascii: "="))
        i += 3
        col += 4
        if col >= 76 { out.append(10); col = 0 }
    }
    if col > 0 { out.append(10) }
    return out
}

func quotedPrintable(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var col = 0
    for b in text.utf8 {
        if b == 10 { out.append(10); col = 0; continue }
        if col >= 72 { out += Array("=\n".utf8); col = 0 }
        if b >= 128 || b == UInt8(ascii: "=") {
            let hex = Array("0123456789ABCDEF".utf8)
            out += [UInt8(ascii: "="), hex[Int(b >> 4)], hex[Int(b & 15)]]
            col += 3
        } else {
            out.append(b)
            col += 1
        }
    }
    return out
}

let prose = "Grüße aus Köln: the quarterly numbers look good, see https://example.com/report for details. "
let koi8Line: [UInt8] = [0xF3, 0xDF, 0xC5, 0xDB, 0xD8, 0x20, 0xD6, 0xC5, 0x20, 0xC5, 0xDD, 0xA3, 0x20, 0xDC, 0xD4, 0xC9, 0xC8, 0x0A]

func text(ofSize n: Int) -> String {
    var s = ""
    s.reserveCapacity(n + prose.utf8.count)
    var k = 0
    while s.utf8.count < n {
        s += prose
        k += 1
        if k % 3 == 0 { s += "\n" }
    }
    return s + "\n"
}

/// One corpus message of about `size` bytes, of kind `kind` (0…4).
func makeMessage(kind: Int, size: Int, index: Int, rng: inout LCG) -> [UInt8] {
    var m = Array("From: Bench Sender <sender@example.com>\nTo: rcpt@example.org\nSubject: =?utf-8?q?Bench_message_\(index)_Gr=C3=BC=C3=9Fe?=\nMessage-ID: <\(index)@bench.example>\nMIME-Version: 1.0\n".utf8)
    switch kind {
    case 0:
        m += Array("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n".utf8)
        m += Array(text(ofSize: size).utf8)
    case 1:
        let t = text(ofSize: size / 2)
        m += Array("Content-Type: multipart/alternative; boundary=\"alt-\(index)\"\n\n--alt-\(index)\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n".utf8)
        m += quotedPrintable(t)
        m += Array("\n--alt-\(index)\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n".utf8)
        m += quotedPrintable("<html><body><p>" + t.split(separator: "\n").joined(separator: "</p><p>") + "</p></body></html>")
        m += Array("\n--alt-\(index)--\n".utf8)
    case 2:
        m += Array("Content-Type: multipart/mixed; boundary=\"mix-\(index)\"\n\n--mix-\(index)\nContent-Type: text/plain; charset=utf-8\n\nSee attachment.\n--mix-\(index)\nContent-Type: application/octet-stream; name=\"data.bin\"\nContent-Disposition: attachment; filename=\"data.bin\"\nContent-Transfer-Encoding: base64\n\n".utf8)
        m += base64Lines(rng.bytes(size * 3 / 4))
        m += Array("--mix-\(index)--\n".utf8)
    case 3:
        m += Array("Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n".utf8)
        var raw: [UInt8] = []
        while raw.count < size * 3 / 4 { raw += koi8Line }
        m += base64Lines(raw)
    default:
        m += Array("Content-Type: multipart/mixed; boundary=\"out-\(index)\"\n\n--out-\(index)\nContent-Type: multipart/alternative; boundary=\"in-\(index)\"\n\n--in-\(index)\nContent-Type: text/plain; charset=utf-8\n\n".utf8)
        m += Array(text(ofSize: size / 4).utf8)
        m += Array("--in-\(index)\nContent-Type: text/html; charset=utf-8\n\n<p>short</p>\n--in-\(index)--\n--out-\(index)\nContent-Type: message/rfc822\n\nFrom: inner@example.net\nSubject: inner\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n".utf8)
        m += Array(String(repeating: "Gr=FC=DFe aus K=F6ln, inner message line.\n", count: max(1, size / 4 / 42)).utf8)
        m += Array("--out-\(index)\nContent-Type: image/jpeg; name=\"photo.jpg\"\nContent-Transfer-Encoding: base64\n\n".utf8)
        m += base64Lines(rng.bytes(size / 3))
        m += Array("--out-\(index)--\n".utf8)
    }
    return m
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    try! Posix.writeAll(fd, bytes, path: path)
    close(fd)
}

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0, "cannot read \(path)")
    defer { close(fd) }
    var w = SpoolWriter(memoryLimit: Int.max, sizeLimit: 0, directory: "/tmp")
    try! w.drain(fd)
    return try! w.finish().allBytes()
}

/// Parses and decodes a message the way the rule stages will: structure, decoded Subject,
/// every leaf decoded in full (text converted to a String), plus the bounded rule views.
/// With `fullText` false, text is streamed like any other part and only the bounded rule
/// views hold text (the memory measurement). Returns a checksum so nothing is optimised away.
func parseAndDecode(_ spool: Spool, fullText: Bool = true) throws -> Int {
    let message = try Message.parse(spool)
    let structure = try MIMEStructure.parse(message)
    var sum = MessageText.decodedHeader("Subject", in: message.header).first?.utf8.count ?? 0
    for part in structure.parts where part.isLeaf {
        if part.contentType.isText && fullText {
            sum &+= try structure.text(of: part, limit: Int.max).utf8.count
        } else {
            try structure.forEachDecodedChunk(of: part) { sum &+= $0.count; return true }
        }
    }
    return sum
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    print("usage: MIMEBench generate DIR COUNT | run DIR | generate-big FILE MB | big FILE")
    exit(64)
}

switch args[1] {
case "generate":
    let dir = args[2]
    let count = args.count > 3 ? Int(args[3])! : 200
    var rng = LCG(state: 42)
    var total = 0
    for i in 0..<count {
        // Sizes spread evenly on a log scale from 2 KB to 2 MB.
        let size = Int(2048.0 * pow(1000.0, Double(rng.next() % 10_000) / 10_000.0))
        let m = makeMessage(kind: i % 5, size: size, index: i, rng: &rng)
        total += m.count
        writeFile(dir + "/" + String(format6(i)) + ".eml", m)
    }
    print("generated \(count) messages, \(total) bytes")

case "run":
    let dir = args[2]
    var names: [String] = []
    if let d = opendir(dir) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".eml") { names.append(name) }
        }
        closedir(d)
    }
    names.sort()
    let spools = names.map { Spool(bytes: readFile(dir + "/" + $0)) }
    let bytes = spools.reduce(0) { $0 + $1.size }
    var best = Double.infinity
    var check = 0
    for _ in 0..<3 {
        let t0 = now()
        for s in spools { check &+= try parseAndDecode(s) }
        best = min(best, now() - t0)
    }
    print("messages \(spools.count)")
    print("bytes \(bytes)")
    print("seconds \(best)")
    print("mb_per_s \(Double(bytes) / 1e6 / best)")
    print("msgs_per_s \(Double(spools.count) / best)")
    print("checksum \(check)")

case "generate-big":
    // A message of about MB megabytes: a little text, one huge base64 attachment, a QP part.
    let path = args[2]
    let mb = Int(args[3])!
    var rng = LCG(state: 7)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    var written = 0
    func put(_ b: [UInt8]) { try! Posix.writeAll(fd, b, path: path); written += b.count }
    put(Array("From: big@example.com\nSubject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=big\n\n--big\nContent-Type: text/plain; charset=utf-8\n\nhello\n--big\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n".utf8))
    let chunk = base64Lines(rng.bytes(3 << 18))   // ~1 MB of base64 lines
    while written < mb << 20 { put(chunk) }
    put(Array("--big\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n".utf8))
    put(quotedPrintable(text(ofSize: 2 << 20)))
    put(Array("\n--big--\n".utf8))
    close(fd)
    print("generated \(written) bytes")

case "big":
    // The message goes through a spool the way `mdad deliver` spools it: past 1 MB it is an
    // unlinked temporary file, so what is measured is the parser's memory, not the message's.
    let fd = open(args[2], O_RDONLY)
    precondition(fd >= 0, "cannot read \(args[2])")
    var w = SpoolWriter(memoryLimit: 1 << 20, sizeLimit: 0, directory: "/tmp")
    try w.drain(fd)
    close(fd)
    let spool = w.finish()
    let before = maxRSS()
    let t0 = now()
    let check = try parseAndDecode(spool, fullText: false)
    let message = try Message.parse(spool)
    let views = try MessageText(message: message, structure: try MIMEStructure.parse(message))
    let seconds = now() - t0
    let after = maxRSS()
    print("big_bytes \(spool.size)")
    print("big_in_memory \(spool.isInMemory)")
    print("big_seconds \(seconds)")
    print("big_mb_per_s \(Double(spool.size) / 1e6 / seconds)")
    print("big_rss_before_kb \(before)")
    print("big_rss_after_kb \(after)")
    print("big_rss_growth_kb \(after - before)")
    print("big_view_bytes \(views.body.utf8.count)")
    print("checksum \(check)")

default:
    print("unknown mode \(args[1])")
    exit(64)
}

func format6(_ i: Int) -> String {
    let s = String(i)
    return String(repeating: "0", count: max(0, 6 - s.count)) + s
}

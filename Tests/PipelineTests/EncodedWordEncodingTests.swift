import Testing
@testable import Pipeline

@Suite("RFC 2047 encoding")
struct EncodedWordEncodingTests {
    @Test func asciiStaysAndTheRestRoundTrips() {
        #expect(EncodedWord.encodeIfNeeded("plain text") == "plain text")
        for text in ["Grüße aus Berlin", "☺", String(repeating: "é", count: 100), "mixed ASCII and ünïcödé words"] {
            let encoded = EncodedWord.encodeIfNeeded(text)
            #expect(encoded.hasPrefix("=?UTF-8?B?"))
            // Each word is at most 75 characters (RFC 2047 section 2).
            for line in encoded.split(separator: "\n") { #expect(line.trimmingCharacters() .count <= 75) }
            #expect(EncodedWord.decode(encoded.replacingOccurrences(of: "\n ", with: " ")) == text)
        }
        #expect(EncodedWord.base64(Array("any carnal pleas".utf8)) == "YW55IGNhcm5hbCBwbGVhcw==")
    }
}

private extension Substring {
    func trimmingCharacters() -> Substring { drop { $0 == " " } }
}

private extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}

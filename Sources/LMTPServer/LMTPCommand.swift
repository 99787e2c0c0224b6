import Pipeline

/// An LMTP command line, parsed (RFC 2033; syntax from RFC 5321 section 4.1).
enum LMTPCommand: Equatable, Sendable {
    case lhlo(String)
    case helo
    case mail(path: String, parameters: [String: String])
    case rcpt(path: String, parameters: [String: String])
    case data
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case vrfy
    case quit
    case help
    case unknown(String)
    /// A known verb with bad arguments: the reply text to send with 501 5.5.4.
    case syntaxError(String)

    static let maxCommandLine = 4096

    /// Parses one command line (without its CRLF).
    static func parse(_ line: String) -> LMTPCommand {
        let verbEnd = line.firstIndex(where: { $0 == " " }) ?? line.endIndex
        let verb = line[..<verbEnd].uppercased()
        let rest = line[verbEnd...].trimmingCharacters(" ")
        switch verb {
        case "LHLO":
            guard !rest.isEmpty else { return .syntaxError("Syntax: LHLO hostname") }
            return .lhlo(String(rest.split(separator: " ").first!))
        case "HELO", "EHLO": return .helo
        case "DATA": return rest.isEmpty ? .data : .syntaxError("Syntax: DATA")
        case "RSET": return .rset
        case "NOOP": return .noop
        case "VRFY": return .vrfy
        case "QUIT": return .quit
        case "HELP": return .help
        case "BDAT":
            let words = rest.split(separator: " ")
            guard (1...2).contains(words.count), let n = Int(words[0]), n >= 0, words[0].allSatisfy(\.isNumber) else {
                return .syntaxError("Syntax: BDAT size [LAST]")
            }
            if words.count == 2 && words[1].uppercased() != "LAST" { return .syntaxError("Syntax: BDAT size [LAST]") }
            return .bdat(size: n, last: words.count == 2)
        case "MAIL", "RCPT":
            let keyword = verb == "MAIL" ? "FROM:" : "TO:"
            guard rest.uppercased().hasPrefix(keyword) else {
                return .syntaxError(verb == "MAIL" ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>")
            }
            let afterColon = rest.dropFirst(keyword.count).trimmingCharacters(" ")
            guard let (path, params) = SMTPPath.parse(afterColon) else {
                return .syntaxError("Syntax: \(verb) \(keyword)<address>")
            }
            return verb == "MAIL" ? .mail(path: path, parameters: params) : .rcpt(path: path, parameters: params)
        default:
            return .unknown(verb)
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(_ c: Character) -> Substring {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return s
    }
}

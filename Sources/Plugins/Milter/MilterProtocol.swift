/// The Sendmail/Postfix milter protocol, version 6, as libmilter's mfdef.h defines it: every
/// packet is a 4-byte big-endian length (the command byte included), one command byte and the
/// data; strings are NUL-terminated.
public enum Milter {
    /// The protocol version mdad speaks (Sendmail 8.14 and Postfix 2.6 onwards).
    public static let version: UInt32 = 6
    /// The largest packet accepted from a milter (libmilter's own limit is 64 KiB of body per
    /// chunk; headers and replies are smaller).
    public static let maximumPacket = 1 << 20
    /// The largest body chunk sent (MILTER_CHUNK_SIZE).
    public static let chunkSize = 65535

    /// Commands the MTA sends (SMFIC_*).
    public enum Command: UInt8, Sendable {
        case abort = 0x41      // 'A'
        case body = 0x42       // 'B'
        case connect = 0x43    // 'C'
        case macro = 0x44      // 'D'
        case endOfBody = 0x45  // 'E'
        case helo = 0x48       // 'H'
        case header = 0x4C     // 'L'
        case mail = 0x4D       // 'M'
        case endOfHeader = 0x4E // 'N'
        case optionNegotiation = 0x4F // 'O'
        case quit = 0x51       // 'Q'
        case rcpt = 0x52       // 'R'
        case data = 0x54       // 'T'
    }

    /// Replies and modification requests the milter sends (SMFIR_*).
    public enum Reply: UInt8, Sendable {
        case addRecipient = 0x2B        // '+'
        case deleteRecipient = 0x2D     // '-'
        case addRecipientWithArgs = 0x32 // '2'
        case shutdown = 0x34            // '4'
        case accept = 0x61              // 'a'
        case replaceBody = 0x62         // 'b'
        case `continue` = 0x63          // 'c'
        case discard = 0x64             // 'd'
        case changeSender = 0x65        // 'e'
        case connectionFailure = 0x66   // 'f'
        case addHeader = 0x68           // 'h'
        case insertHeader = 0x69        // 'i'
        case setSymbolList = 0x6C       // 'l'
        case changeHeader = 0x6D        // 'm'
        case progress = 0x70            // 'p'
        case quarantine = 0x71          // 'q'
        case reject = 0x72              // 'r'
        case skip = 0x73                // 's'
        case tempfail = 0x74            // 't'
        case replyCode = 0x79           // 'y'
        case optionNegotiation = 0x4F   // 'O'
    }

    /// What the milter may change (SMFIF_*), offered by the MTA and asked for by the milter.
    public struct Actions: OptionSet, Sendable, Equatable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let addHeaders = Actions(rawValue: 0x01)
        public static let changeBody = Actions(rawValue: 0x02)
        public static let addRecipients = Actions(rawValue: 0x04)
        public static let deleteRecipients = Actions(rawValue: 0x08)
        public static let changeHeaders = Actions(rawValue: 0x10)
        public static let quarantine = Actions(rawValue: 0x20)
        public static let changeSender = Actions(rawValue: 0x40)
        public static let addRecipientsWithArgs = Actions(rawValue: 0x80)
        /// Everything mdad carries out (not SETSYMLIST: mdad sends a fixed set of macros).
        public static let supported: Actions = [.addHeaders, .changeBody, .addRecipients, .deleteRecipients,
                                                .changeHeaders, .quarantine, .changeSender, .addRecipientsWithArgs]
    }

    /// Which steps the milter does not want, or wants without waiting for a reply (SMFIP_*).
    public struct Steps: OptionSet, Sendable, Equatable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let noConnect = Steps(rawValue: 0x01)
        public static let noHelo = Steps(rawValue: 0x02)
        public static let noMail = Steps(rawValue: 0x04)
        public static let noRcpt = Steps(rawValue: 0x08)
        public static let noBody = Steps(rawValue: 0x10)
        public static let noHeaders = Steps(rawValue: 0x20)
        public static let noEndOfHeader = Steps(rawValue: 0x40)
        public static let noReplyHeader = Steps(rawValue: 0x80)
        public static let noUnknown = Steps(rawValue: 0x100)
        public static let noData = Steps(rawValue: 0x200)
        public static let skip = Steps(rawValue: 0x400)
        public static let rejectedRecipients = Steps(rawValue: 0x800)
        public static let noReplyConnect = Steps(rawValue: 0x1000)
        public static let noReplyHelo = Steps(rawValue: 0x2000)
        public static let noReplyMail = Steps(rawValue: 0x4000)
        public static let noReplyRcpt = Steps(rawValue: 0x8000)
        public static let noReplyData = Steps(rawValue: 0x10000)
        public static let noReplyUnknown = Steps(rawValue: 0x20000)
        public static let noReplyEndOfHeader = Steps(rawValue: 0x40000)
        public static let noReplyBody = Steps(rawValue: 0x80000)
        public static let headerLeadingSpace = Steps(rawValue: 0x100000)
        /// What mdad can honour: it skips any step and sends any without waiting when asked.
        /// (Not HDR_LEADSPC: header values are sent and taken without their leading space.)
        public static let supported = Steps(rawValue: 0x0FFFFF & ~Steps.rejectedRecipients.rawValue)
    }

    /// A packet: the command byte and its data, framed.
    static func packet(_ command: UInt8, _ data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 5)
        appendUInt32(&out, UInt32(data.count + 1))
        out.append(command)
        out.append(contentsOf: data)
        return out
    }

    static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func uint32(_ b: ArraySlice<UInt8>) -> UInt32? {
        guard b.count >= 4 else { return nil }
        let i = b.startIndex
        return UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// The NUL-terminated strings in `data` (a missing final NUL ends the last one).
    static func strings(_ data: ArraySlice<UInt8>) -> [String] {
        data.split(separator: 0, omittingEmptySubsequences: false)
            .dropLast(data.last == 0 ? 1 : 0)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    static func cString(_ s: String) -> [UInt8] { Array(s.utf8.filter { $0 != 0 }) + [0] }
}

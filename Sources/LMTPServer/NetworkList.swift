import NIOCore
import Pipeline

/// `mynetworks`: address blocks in CIDR notation (`127.0.0.0/8`, `[::1]/128`, `192.0.2.7`).
public struct NetworkList: Sendable, Equatable {
    struct Block: Sendable, Equatable {
        var bytes: [UInt8]
        var prefix: Int
    }

    let blocks: [Block]

    public init(_ items: [String]) throws(ConfigError) {
        var blocks: [Block] = []
        for item in items {
            var text = item
            var prefix: Int?
            if let slash = text.lastIndex(of: "/") {
                guard let p = Int(text[text.index(after: slash)...]) else {
                    throw ConfigError("mynetworks: bad prefix length in \"\(item)\"")
                }
                prefix = p
                text = String(text[..<slash])
            }
            if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
            guard let bytes = NetworkList.parse(text) else {
                throw ConfigError("mynetworks: \"\(item)\" is not an address or address/prefix; expected for example 127.0.0.0/8 or [::1]/128")
            }
            let p = prefix ?? bytes.count * 8
            guard (0...(bytes.count * 8)).contains(p) else { throw ConfigError("mynetworks: prefix out of range in \"\(item)\"") }
            blocks.append(Block(bytes: bytes, prefix: p))
        }
        self.blocks = blocks
    }

    static func parse(_ text: String) -> [UInt8]? {
        if let a = try? SocketAddress(ipAddress: text, port: 0) { return bytes(of: a) }
        return nil
    }

    static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let a):
            return withUnsafeBytes(of: a.address.sin_addr.s_addr) { Array($0) }
        case .v6(let a):
            let b = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return Array(b[12...]) }
            return b
        default:
            return nil
        }
    }

    /// Whether a client address is inside one of the blocks. UNIX-socket clients always are.
    public func contains(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        if case .unixDomainSocket = address { return true }
        guard let b = NetworkList.bytes(of: address) else { return false }
        return blocks.contains { block in
            guard block.bytes.count == b.count else { return false }
            var bits = block.prefix
            for i in 0..<b.count where bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if b[i] & mask != block.bytes[i] & mask { return false }
                bits -= 8
            }
            return true
        }
    }
}

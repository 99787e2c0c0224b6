#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where message bytes are written: a file, a buffer, a socket.
public protocol ByteSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Collects bytes in memory (tests, small outputs).
public struct BufferSink: ByteSink, Sendable {
    public var bytes: [UInt8] = []
    public init() {}
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
}

/// Converts CRLF line endings to LF, as Maildir and mbox files store mail (Dovecot does the same).
/// A bare CR is kept. Handles a CR at the end of one chunk and its LF at the start of the next.
/// Counts bytes and line feeds written, which gives Maildir's `S=` and `W=` sizes.
public struct LineFeedNormalizer<Inner: ByteSink>: ByteSink {
    public var inner: Inner
    private var pendingCR = false
    private var scratch: [UInt8] = []
    public private(set) var bytesWritten = 0
    public private(set) var lineFeeds = 0

    public init(_ inner: Inner) { self.inner = inner }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty, let base = bytes.baseAddress else { return }
        let n = bytes.count
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(n + 1)
        if pendingCR {
            pendingCR = false
            if bytes[0] != 10 { scratch.append(13) }
        }
        // Copy the runs between CRs in bulk (memchr), dropping only the CR of each CRLF.
        var start = 0
        while start < n {
            guard let hit = memchr(base + start, 13, n - start) else {
                scratch.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: n - start))
                break
            }
            let cr = base.distance(to: UnsafeRawPointer(hit))
            scratch.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: cr - start))
            if cr + 1 == n {
                pendingCR = true   // its LF may start the next chunk
            } else if bytes[cr + 1] != 10 {
                scratch.append(13) // a bare CR stays
            }
            start = cr + 1
        }
        try scratch.withUnsafeBytes { out in
            bytesWritten += out.count
            lineFeeds += LineFeedNormalizer.countLineFeeds(out)
            try inner.write(out)
        }
    }

    static func countLineFeeds(_ run: UnsafeRawBufferPointer) -> Int {
        guard var p = run.baseAddress else { return 0 }
        var remaining = run.count
        var count = 0
        while remaining > 0, let hit = memchr(p, 10, remaining) {
            count += 1
            let consumed = p.distance(to: UnsafeRawPointer(hit)) + 1
            p += consumed
            remaining -= consumed
        }
        return count
    }

    /// Writes a CR held back at the end of the input.
    public mutating func finish() throws {
        if pendingCR {
            pendingCR = false
            bytesWritten += 1
            try inner.write([13])
        }
    }
}

/// Buffered writes to a file descriptor.
public struct FileSink: ByteSink {
    public let fd: Int32
    public let path: String
    private var buffer: [UInt8] = []
    private let capacity: Int

    public init(fd: Int32, path: String, capacity: Int = 1 << 16) {
        self.fd = fd
        self.path = path
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity {
            try flush()
            if bytes.count >= capacity {
                try Posix.writeAll(fd, bytes, path: path)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Posix.writeAll(fd, $0, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }
}

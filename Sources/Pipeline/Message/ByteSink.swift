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
        guard !bytes.isEmpty else { return }
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(bytes.count + 1)
        var i = 0
        if pendingCR {
            pendingCR = false
            if bytes[0] != 10 { scratch.append(13) }
        }
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b == 13 {
                if i + 1 == n { pendingCR = true; i += 1; continue }
                if bytes[i + 1] == 10 { i += 1; continue }   // drop the CR of CRLF
            } else if b == 10 {
                lineFeeds += 1
            }
            scratch.append(b)
            i += 1
        }
        bytesWritten += scratch.count
        try scratch.withUnsafeBytes { try inner.write($0) }
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

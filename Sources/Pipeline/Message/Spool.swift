#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The message's bytes as they arrived, stored once: in memory up to a limit, past it in an
/// unlinked temporary file (as Dovecot's seekable streams do). Immutable once spooled, so one
/// spool is shared by every recipient and read as often as needed without loading it whole.
public final class Spool: Sendable {
    enum Storage: Sendable {
        case memory([UInt8])
        case file(Int32)
    }

    let storage: Storage
    /// Bytes in the spool.
    public let size: Int

    init(storage: Storage, size: Int) {
        self.storage = storage
        self.size = size
    }

    /// A spool over bytes already in memory (tests, small messages).
    public convenience init(bytes: [UInt8]) {
        self.init(storage: .memory(bytes), size: bytes.count)
    }

    deinit {
        if case .file(let fd) = storage { close(fd) }
    }

    public var isInMemory: Bool {
        if case .memory = storage { return true }
        return false
    }

    /// Up to `count` bytes from `offset`.
    public func read(offset: Int, count: Int) throws -> [UInt8] {
        let end = min(size, offset + count)
        guard offset < end else { return [] }
        switch storage {
        case .memory(let bytes):
            return Array(bytes[offset..<end])
        case .file(let fd):
            var out = [UInt8](repeating: 0, count: end - offset)
            var filled = 0
            while filled < out.count {
                let n = try out.withUnsafeMutableBytes { buf in
                    try Posix.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: buf[filled...]), offset: offset + filled)
                }
                if n == 0 { break }
                filled += n
            }
            return Array(out[0..<filled])
        }
    }

    /// Streams the bytes from `offset` to the end in chunks, never holding more than one chunk.
    public func forEachChunk(from offset: Int, chunkSize: Int = 1 << 16,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard offset < size else { return }
        switch storage {
        case .memory(let bytes):
            try bytes.withUnsafeBytes { all in
                var pos = offset
                while pos < size {
                    let end = min(size, pos + chunkSize)
                    try body(UnsafeRawBufferPointer(rebasing: all[pos..<end]))
                    pos = end
                }
            }
        case .file(let fd):
            var buffer = [UInt8](repeating: 0, count: chunkSize)
            var pos = offset
            while pos < size {
                let n = try buffer.withUnsafeMutableBytes { try Posix.pread(fd, into: $0, offset: pos) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                pos += n
            }
        }
    }

    /// All bytes (tests and small messages only).
    public func allBytes() throws -> [UInt8] { try read(offset: 0, count: size) }
}

/// The message was larger than `message_size_limit`.
public struct MessageTooLarge: Error, Sendable {
    public let limit: Int
}

/// Writes a spool as the message arrives.
public struct SpoolWriter: ~Copyable {
    private var memory: [UInt8] = []
    private var fd: Int32 = -1
    private var written = 0
    private let memoryLimit: Int
    private let sizeLimit: Int
    private let directory: String

    /// - Parameters:
    ///   - memoryLimit: bytes kept in memory before spilling to a file.
    ///   - sizeLimit: the largest message accepted (0 = no limit); past it `append` throws.
    ///   - directory: where the temporary file goes.
    public init(memoryLimit: Int, sizeLimit: Int, directory: String) {
        self.memoryLimit = memoryLimit
        self.sizeLimit = sizeLimit
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    public var count: Int { written }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        if sizeLimit > 0, written + bytes.count > sizeLimit {
            throw MessageTooLarge(limit: sizeLimit)
        }
        if fd < 0, memory.count + bytes.count <= memoryLimit {
            memory.append(contentsOf: bytes)
            written += bytes.count
            return
        }
        if fd < 0 { try spill() }
        try Posix.writeAll(fd, bytes, path: directory)
        written += bytes.count
    }

    public mutating func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    private mutating func spill() throws {
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast())
        template += Array("mdad-spool.XXXXXX".utf8CString)
        let newFD = mkstemp(&template)
        if newFD < 0 { throw SystemError("mkstemp", path: directory) }
        _ = fcntl(newFD, F_SETFD, FD_CLOEXEC)
        // The spool is private to this process: unlink at once, nothing is left behind on a crash.
        unlink(template)
        fd = newFD
        try memory.withUnsafeBytes { try Posix.writeAll(fd, $0, path: directory) }
        memory = []
    }

    /// Reads `fd` to end of file into the spool.
    public mutating func drain(_ input: Int32) throws {
        // Not zero-filled: a small message touches only the pages it fills.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try Posix.read(input, into: buffer)
            if n == 0 { return }
            try append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    public consuming func finish() -> Spool {
        if fd >= 0 {
            let spool = Spool(storage: .file(fd), size: written)
            fd = -1
            return spool
        }
        return Spool(storage: .memory(memory), size: written)
    }
}

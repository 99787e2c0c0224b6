import CSystemShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let path: String?
    public let errno: Int32

    public init(_ call: String, path: String? = nil, errno: Int32 = currentErrno()) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        if let path { return "\(call) \(path): \(message)" }
        return "\(call): \(message)"
    }
}

public func currentErrno() -> Int32 {
    #if canImport(Glibc)
    return Glibc.errno
    #else
    return Darwin.errno
    #endif
}

/// Thin, checked wrappers over the POSIX calls mdad uses for durable storage.
public enum Posix {
    /// Writes all of `bytes`, retrying on EINTR and short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String? = nil) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if currentErrno() == EINTR { continue }
                throw SystemError("write", path: path)
            }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String? = nil) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// Reads up to `count` bytes, retrying on EINTR; returns 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if currentErrno() == EINTR { continue }
                throw SystemError("read")
            }
            return n
        }
    }

    public static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int) throws -> Int {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress!, buffer.count, off_t(offset))
            if n < 0 {
                if currentErrno() == EINTR { continue }
                throw SystemError("pread")
            }
            return n
        }
    }

    public static func fsync(_ fd: Int32, path: String? = nil) throws {
        while Glibc.fsync(fd) != 0 {
            if currentErrno() == EINTR { continue }
            throw SystemError("fsync", path: path)
        }
    }

    /// fsyncs a directory, so that a rename or link inside it is durable.
    public static func fsyncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: path) }
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// Creates a directory; an existing directory is fine.
    public static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 {
            let e = currentErrno()
            if e == EEXIST, isDirectory(path) { return }
            throw SystemError("mkdir", path: path, errno: e)
        }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The names in a directory, without `.` and `..`, in no particular order; nil when it
    /// cannot be opened.
    public static func directoryEntries(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Reads a whole (small) file, such as main.cf.
    public static func readFile(_ path: String, limit: Int = 16 << 20) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: path) }
        defer { close(fd) }
        var out: [UInt8] = []
        // Not zero-filled: the pages a short file never reaches are never touched.
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try read(fd, into: chunk)
            if n == 0 { break }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            if out.count > limit { throw SystemError("read", path: path, errno: EFBIG) }
        }
        return out
    }

    /// Puts a finished temporary file in place: rename over `path`, then fsync the directory
    /// so the new name is durable. On failure the temporary file is removed and the old file
    /// stays. Readers see the old file or the new one, never a mix.
    public static func publish(_ temporary: String, as path: String) throws {
        if rename(temporary, path) != 0 {
            let e = SystemError("rename", path: path)
            unlink(temporary)
            throw e
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        try fsyncDirectory(dir.isEmpty ? "/" : dir)
    }

    /// `seconds` since the epoch in local time through strftime(3) (C locale: English names).
    public static func localTime(_ seconds: Int, format: String) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 96)
        let n = strftime(&buf, buf.count, format, &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// Runs `body` on a detached thread of its own, named `name` (at most 15 bytes show), for
    /// a loop that lives as long as the process. A plain pthread, so that no caller needs
    /// Foundation (whose static link adds ICU to every program, `mdad deliver` included).
    public static func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            _ = mdad_name_thread(String(decoding: b.name.utf8.prefix(15), as: UTF8.self))
            b.body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("cannot start thread \(name)", errno: rc)
        }
        pthread_detach(thread)
    }

    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }
}

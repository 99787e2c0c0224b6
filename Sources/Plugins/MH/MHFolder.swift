#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// An MH folder (procmail's `folder/.`): each message is a file named by the next free number.
///
/// The file is created with O_EXCL, so two deliveries racing for a number never share it (the
/// loser takes the next); it is fsynced, and the folder after it, before delivery counts as done.
/// A failed write removes the partial file.
///
/// With a `uniquePrefix` it is procmail's plain directory folder instead (a folder naming an
/// existing directory without a trailing `/`): each file is named the prefix (MSGPREFIX,
/// `msg.` by default) and a short unique suffix, as procmail's `msg.BII-`.
public struct MHFolder: Sendable {
    public let path: String
    /// How many numbers (or unique names) to try before giving up.
    public var attempts = 1000
    /// nil: numbered files (MH); otherwise the prefix of unique names.
    public var uniquePrefix: String?

    public init(path: String, uniquePrefix: String? = nil) {
        self.path = path
        self.uniquePrefix = uniquePrefix
    }

    /// Stores the message; returns the file's path.
    @discardableResult
    public func deliver(_ message: Message, prepending prepend: [HeaderField] = []) throws(DeliveryStatus) -> String {
        try store { sink in try message.write(prepending: prepend, to: &sink) }
    }

    /// Stores bytes its writer has already formatted (procmail's MH files keep the `From `
    /// line); returns the file's path.
    @discardableResult
    public func deliver(bytes: [UInt8]) throws(DeliveryStatus) -> String {
        try store { sink in try sink.write(bytes) }
    }

    private func store(_ write: (inout FileSink) throws -> Void) throws(DeliveryStatus) -> String {
        if !Posix.isDirectory(path) {
            do { try Posix.makeDirectory(path, mode: 0o700) } catch let e as SystemError {
                throw DeliveryStatus.mailbox(e, doing: "create MH folder \(path)")
            } catch {
                throw DeliveryStatus.unexpected(error, while: "creating MH folder \(path)")
            }
        }
        var number = uniquePrefix == nil ? highestNumber() + 1 : 0
        for _ in 0..<attempts {
            let file = uniquePrefix.map { "\(path)/\($0)\(Self.uniqueSuffix())" } ?? "\(path)/\(number)"
            let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd < 0 {
                if currentErrno() == EEXIST { number += 1; continue }
                throw DeliveryStatus.mailbox(SystemError("open", path: file), doing: "create \(file)")
            }
            do {
                var sink = FileSink(fd: fd, path: file)
                try write(&sink)
                try sink.flush()
                try Posix.fsync(fd, path: file)
                close(fd)
                try Posix.fsyncDirectory(path)
                return file
            } catch {
                close(fd)
                unlink(file)
                if let e = error as? SystemError { throw DeliveryStatus.mailbox(e, doing: "write \(file)") }
                throw DeliveryStatus.unexpected(error, while: "writing \(file)")
            }
        }
        throw DeliveryStatus(.temporaryFailure, "cannot find a free message number",
                             reason: "MH folder \(path): no free message number after \(attempts) tries")
    }

    /// Four characters from procmail's alphabet for unique names (letters, digits, `-`, `_`).
    static func uniqueSuffix() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String((0..<4).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    /// The highest message number in the folder (0 when empty).
    func highestNumber() -> Int {
        (Posix.directoryEntries(path) ?? []).reduce(0) { highest, name in
            guard name.allSatisfy(\.isNumber), let n = Int(name) else { return highest }
            return max(highest, n)
        }
    }
}

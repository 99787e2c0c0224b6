#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `mdad-deliver` handing a delivery to the full `mdad` program installed next to it, as
/// `mdad deliver` with the same arguments and the same standard input: for what the small
/// program leaves out (NSS modules in the static build, `pgsql:` tables). Possible only until
/// the message is read: the delivery calls ``close()`` before it spools standard input.
public enum HandOff {
    private struct Target { var command: String; var arguments: [String] }
    nonisolated(unsafe) private static var target: Target?

    /// Allows hand-offs of this process (mdad-deliver's entry point).
    public static func enable(command: String, arguments: [String]) {
        target = Target(command: command, arguments: arguments)
    }

    /// No hand-off from now on (standard input is about to be read).
    public static func close() { target = nil }

    /// Whether a hand-off is still possible.
    public static var isOpen: Bool { target != nil }

    /// Hands over (never returns) when still possible; else returns.
    public static func ifPossible(reason: String) {
        if isOpen { now(reason: reason) }
    }

    /// Execs `mdad` from this program's directory. When it cannot, the delivery is deferred
    /// (exit 75) with the reason on standard error.
    public static func now(reason: String) -> Never {
        let t = target ?? Target(command: "deliver", arguments: [])
        let program = siblingProgram("mdad")
        var cargs: [UnsafeMutablePointer<CChar>?] = ([program, t.command] + t.arguments).map { strdup($0) }
        cargs.append(nil)
        execv(program, cargs)
        let err = SystemError("execv", path: program)
        try? Posix.writeAll(2, Array("4.3.5 mdad-deliver: \(reason); cannot hand the delivery to \(program): \(err.message)\n".utf8))
        exit(75)
    }

    /// `NAME` in the directory this program was started from (its resolved path).
    static func siblingProgram(_ name: String) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return "/usr/local/bin/" + name }
        let path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return name }
        return String(path[...slash]) + name
    }
}

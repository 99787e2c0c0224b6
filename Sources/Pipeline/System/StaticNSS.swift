import CSystemShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// User and host lookups in the fully static `mdad-deliver` (bench/build-release.sh).
///
/// A static program has glibc's built-in NSS sources (`files`, `dns`) but cannot load the
/// others: it would dlopen libnss_systemd.so.2 (or ldap, sss, …) into a program with its own
/// copy of libc, and crash. So at start the static program checks /etc/nsswitch.conf:
/// - when every database it uses lists only sources it can answer for (`files`, and `dns`
///   for hosts) or ones that cannot matter for a recipient in /etc/passwd (`systemd`, which
///   adds root, nobody and systemd's dynamic users; `db`, a cache of /etc/services), NSS is
///   restricted to the built-in sources;
/// - otherwise it hands the delivery over, before reading the message, to the dynamically
///   linked `mdad` installed next to it (`mdad deliver` with the same arguments and standard
///   input), which uses NSS in full.
/// A destination user that is not in /etc/passwd is handed over the same way, so a user only
/// systemd knows gets exactly what the dynamic program would do.
public enum StaticNSS {
    /// Whether this is the fully static program.
    public static var isStaticExecutable: Bool { mdad_is_static_executable() != 0 }

    /// The sources each database may list, and what the static program asks instead.
    static let databases: [(name: String, allowed: [String], builtin: String)] = [
        ("passwd", ["files", "systemd"], "files"),
        ("group", ["files", "systemd"], "files"),
        ("initgroups", ["files", "systemd"], "files"),
        ("shadow", ["files", "systemd"], "files"),
        ("hosts", ["files", "dns"], "files dns"),
        ("services", ["files", "db"], "files"),
    ]

    /// Why the static program cannot answer as NSS would under this nsswitch.conf, or nil.
    public static func unsupportedSources(nsswitch text: String) -> String? {
        for raw in text.split(whereSeparator: { $0 == "\n" }) {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingWhitespace()
            guard let db = databases.first(where: { $0.name == name }) else { continue }
            var inAction = false
            for word in line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                // `[NOTFOUND=return]` and the like are actions, not sources.
                if word.hasPrefix("[") { inAction = true }
                if inAction {
                    if word.hasSuffix("]") { inAction = false }
                    continue
                }
                if !db.allowed.contains(String(word)) {
                    return "/etc/nsswitch.conf: \(db.name) uses \(word), which a statically linked program cannot load"
                }
            }
        }
        return nil
    }

    /// Restricts NSS to the sources built into the static libc.
    public static func restrictToBuiltins() {
        for db in databases { _ = mdad_nss_configure(db.name, db.builtin) }
    }

    /// Prepares the static program: hands over at once if nsswitch.conf asks for more than it
    /// can answer, else restricts NSS. Does nothing in a dynamically linked program.
    /// `MDAD_NSSWITCH_CONF` names another nsswitch.conf (tests).
    public static func prepare() {
        guard isStaticExecutable else { return }
        let path = Posix.environment("MDAD_NSSWITCH_CONF") ?? "/etc/nsswitch.conf"
        if let bytes = try? Posix.readFile(path, limit: 1 << 20),
           let reason = unsupportedSources(nsswitch: String(decoding: bytes, as: UTF8.self)) {
            HandOff.now(reason: reason)
        }
        restrictToBuiltins()
    }

    /// In the static program, hands the delivery to `mdad deliver` (never returns) while that
    /// is still possible; in any other program, returns.
    public static func handOffIfStatic(reason: String) {
        guard isStaticExecutable else { return }
        HandOff.ifPossible(reason: reason)
    }
}

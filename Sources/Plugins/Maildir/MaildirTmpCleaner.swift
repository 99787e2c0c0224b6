#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Removes what interrupted deliveries left in a Maildir's tmp/.
///
/// A delivery killed between creating its file in tmp/ and linking it into new/ (SIGKILL,
/// a crash, a power cut) leaves the file behind; it was never acknowledged, so the sender
/// retries and nothing is lost, but the file takes space. The first delivery of each process
/// into a folder removes, from its tmp/:
/// - files this host wrote (the host part of the name is ours) whose writer process is gone
///   (`kill(pid, 0)` says ESRCH) — leftovers of a killed mdad, removed at once;
/// - any file not changed for 36 hours, as the Maildir specification allows.
/// A file of a live process, or of another host, younger than that is never touched.
enum MaildirTmpCleaner {
    private static let cleaned = Locked(Set<String>())
    static let maximumAge = 36 * 3600

    /// Cleans `dir`/tmp once per process.
    static func cleanOnce(_ dir: String, host: String) {
        guard cleaned.withLock({ $0.insert(dir).inserted }) else { return }
        clean(dir + "/tmp", host: MaildirName.safeHost(host), now: Int(time(nil)))
    }

    /// Returns the names removed.
    @discardableResult
    static func clean(_ tmp: String, host: String, now: Int) -> [String] {
        guard let names = Posix.directoryEntries(tmp) else { return [] }
        var removed: [String] = []
        for name in names {
            let path = tmp + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let stale = now - Int(st.st_mtim.tv_sec) > maximumAge
            if stale || orphan(name, host: host) {
                if unlink(path) == 0 { removed.append(name) }
            }
        }
        return removed
    }

    /// Whether `name` (`<sec>.M<usec>P<pid>Q<n>.<host>`) was written on this host by a process
    /// that no longer exists.
    static func orphan(_ name: String, host: String) -> Bool {
        guard let firstDot = name.firstIndex(of: ".") else { return false }
        let rest = name[name.index(after: firstDot)...]
        guard let hostDot = rest.firstIndex(of: "."), rest[rest.index(after: hostDot)...] == host[...] else { return false }
        let unique = rest[..<hostDot]
        guard let p = unique.firstIndex(of: "P"), let q = unique.firstIndex(of: "Q"), p < q,
              let pid = Int32(unique[unique.index(after: p)..<q]), pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) != 0 && currentErrno() == ESRCH
    }
}

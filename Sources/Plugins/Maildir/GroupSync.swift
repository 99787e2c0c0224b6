#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims
import Pipeline

/// Group commit: concurrent deliveries share their flushes.
///
/// One create + fsync + link + fsync(dir) sequence per message tops out near a thousand
/// messages a second on a disk like this machine's, whatever the number of writers. Instead,
/// each delivery that needs its writes durable calls ``sync(_:)``; a caller that finds no
/// flush running starts one (`syncfs(2)`, which makes every dirty page and directory entry of
/// the file system durable); callers that arrive while a flush runs wait for the next one,
/// which a single one of them starts on behalf of all. So every caller returns only after a
/// flush that *began after it asked* has finished — the same promise as its own fsync — and
/// N concurrent deliveries cost about two flushes, not 2N.
public final class GroupSync: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    /// Flushes started and finished; a caller needs finished ≥ (started when it asked) + 1.
    private var started: UInt64 = 0
    private var finished: UInt64 = 0
    private var running = false
    private var lastError: Int32 = 0
    private var flushCount: UInt64 = 0

    /// How many flushes were run (for tests and the benchmark report).
    public var flushes: UInt64 {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return flushCount
    }

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Returns once everything written on `fd`'s file system before this call is durable.
    public func sync(_ fd: Int32, path: String) throws {
        pthread_mutex_lock(&mutex)
        let target = started + 1
        while finished < target {
            if !running {
                running = true
                started += 1
                let generation = started
                pthread_mutex_unlock(&mutex)
                let rc = mdad_syncfs(fd)
                let err = rc == 0 ? 0 : currentErrno()
                pthread_mutex_lock(&mutex)
                finished = generation
                lastError = err
                flushCount += 1
                running = false
                pthread_cond_broadcast(&condition)
            } else {
                pthread_cond_wait(&condition, &mutex)
            }
        }
        let err = lastError
        pthread_mutex_unlock(&mutex)
        if err != 0 { throw SystemError("syncfs", path: path, errno: err) }
    }
}

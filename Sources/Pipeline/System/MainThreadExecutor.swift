#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a command's async work on the thread that calls `run`, for programs that start once
/// per message (`mdad-deliver`) and so pay for every thread they start.
///
/// The work is started with `Task(executorPreference:)` on this executor; nonisolated async
/// code then runs here instead of on the global pool, so a plain local delivery starts no
/// thread at all. An `async` main would hand the work to a pool thread and park the main
/// thread in `dispatch_main`, whose `pthread_exit` unwinds the stack: two thread start-ups
/// and, in a fully static build, a sort of every unwind table in the program (about 7 ms).
public final class MainThreadExecutor: TaskExecutor, @unchecked Sendable {
    private var jobs: [UnownedJob] = []
    private var finished = false
    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(&mutex)
        jobs.append(unowned)
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex)
    }

    /// Runs `body` here, with this thread serving as its executor, and returns its result once
    /// it has finished (work it awaits elsewhere resumes on this thread).
    public func run(_ body: @escaping @Sendable () async -> Int32) -> Int32 {
        let result = Locked<Int32?>(nil)
        Task(executorPreference: self) {
            let code = await body()
            result.withLock { $0 = code }
            self.finish()
        }
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty && !finished { pthread_cond_wait(&ready, &mutex) }
            if jobs.isEmpty {
                pthread_mutex_unlock(&mutex)
                return result.withLock { $0 } ?? 70
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(&mutex)
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func finish() {
        pthread_mutex_lock(&mutex)
        finished = true
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex)
    }
}

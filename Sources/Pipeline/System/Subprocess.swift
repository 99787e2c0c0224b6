#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims

/// Runs a program as a child process: the one way mdad starts programs (pipe deliveries,
/// `sendmail_path` for outbound mail, procmail's commands, filter stages, the privileged
/// store's child).
///
/// The child gets an explicit argument vector and environment (nothing is inherited from the
/// daemon), its own process group (so a timeout kills what it started too), default signal
/// dispositions, and close-on-exec pipes (so children spawned at the same moment by other
/// threads do not hold each other's pipes open). Its input is fed on a thread of its own while
/// this one reads its output, so no pipe can fill up and stall it. Output kept is bounded.
public enum Subprocess {
    public struct Options: Sendable {
        /// Seconds before the child's process group gets SIGTERM, then SIGKILL two seconds
        /// later; 0 means no limit.
        public var timeout: Double = 0
        /// Bytes of standard output kept; more is read and dropped.
        public var outputLimit: Int = 1 << 20
        /// Bytes of standard error kept.
        public var errorLimit: Int = 64 << 10
        /// Whether standard output is read (otherwise it is /dev/null).
        public var captureOutput: Bool = true
        /// The directory the child starts in (nil = the caller's).
        public var workingDirectory: String? = nil
        /// The user the child runs as (nil = this process's identity). See ``Identity``.
        public var identity: Identity? = nil

        public init(timeout: Double = 0, outputLimit: Int = 1 << 20, captureOutput: Bool = true,
                    workingDirectory: String? = nil, identity: Identity? = nil) {
            self.timeout = timeout
            self.outputLimit = outputLimit
            self.captureOutput = captureOutput
            self.workingDirectory = workingDirectory
            self.identity = identity
        }
    }

    /// The identity a child runs as: its real and effective uid and gid, and its supplementary
    /// groups (the user's from the group database, as initgroups(3) gives them, or none for a
    /// virtual mailbox's numeric IDs).
    ///
    /// A root daemon's delivery threads only switch their file-system identity, and a program
    /// must not run with root's other privileges, so the child itself has to change user. glibc's
    /// posix_spawn cannot, and a hand-written vfork path would have to avoid every non-async-
    /// signal-safe call (glibc's setuid() signals every thread of the parent it shares memory
    /// with). So the child is util-linux's setpriv(1) (`--reuid --regid --init-groups --`), which
    /// changes the credentials in that order and then execs the command: one extra exec (about a
    /// millisecond), no C of our own, and its checks (it fails rather than run as root when a
    /// switch does not take) are the kernel's and util-linux's. A process that is not root runs
    /// commands only as itself.
    public struct Identity: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        /// Whether the child gets the supplementary groups of the passwd entry of `uid`
        /// (a system user) or none (a virtual mailbox's numeric IDs).
        public var initGroups: Bool

        public init(uid: UInt32, gid: UInt32, initGroups: Bool) {
            self.uid = uid
            self.gid = gid
            self.initGroups = initGroups
        }

        /// The program that switches identity before exec.
        public static let setpriv = "/usr/bin/setpriv"

        /// The argument vector that runs `argv` as this identity from a process with effective
        /// uid `current`; throws when that is impossible (not root and not already the user) or
        /// would run a command as root.
        func wrap(_ argv: [String], current: uid_t) throws -> [String] {
            if uid == 0 {
                throw SystemError("refusing to run \(argv[0]) as root for a user", errno: EPERM)
            }
            if current == uid { return argv }
            guard current == 0 else {
                throw SystemError("cannot run \(argv[0]) as uid \(uid) from uid \(current)", errno: EPERM)
            }
            var out = [Self.setpriv, "--reuid=\(uid)", "--regid=\(gid)"]
            // --init-groups takes the name from the passwd entry of --reuid (and fails without one).
            out.append(initGroups ? "--init-groups" : "--clear-groups")
            return out + ["--"] + argv
        }
    }

    public struct Result: Sendable {
        /// The exit code, when the child exited.
        public var exitCode: Int32?
        /// The signal that ended the child, when one did.
        public var signal: Int32?
        /// Whether the timeout ended it.
        public var timedOut: Bool
        public var output: [UInt8]
        public var errorOutput: [UInt8]
        /// Whether more output came than `outputLimit` kept.
        public var outputTruncated: Bool

        /// "exit status 3", "signal 9", "timed out after 10s".
        public var summary: String {
            if timedOut { return "timed out" }
            if let c = exitCode { return "exit status \(c)" }
            return "signal \(signal ?? 0)"
        }

        /// The first line of standard error, for log lines.
        public var firstErrorLine: String {
            String(decoding: errorOutput.prefix { $0 != 10 }, as: UTF8.self)
        }
    }

    /// Runs `argv` (argv[0] an absolute path) with `environment` ("NAME=value" entries) and
    /// `input` written to its standard input.
    public static func run(_ argv: [String], environment: [String],
                           options: Options = Options(),
                           input: @escaping @Sendable (inout FileSink) throws -> Void) throws -> Result {
        precondition(!argv.isEmpty)
        let argv = try options.identity.map { try $0.wrap(argv, current: geteuid()) } ?? argv
        var stdinPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll() { for fd in stdinPipe + outPipe + errPipe where fd >= 0 { close(fd) } }
        guard mdad_pipe_cloexec(&stdinPipe) == 0, mdad_pipe_cloexec(&errPipe) == 0,
              !options.captureOutput || mdad_pipe_cloexec(&outPipe) == 0 else {
            let e = SystemError("pipe")
            closeAll()
            throw e
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        if options.captureOutput {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let dir = options.workingDirectory { mdad_spawn_addchdir(&actions, dir) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) }; for p in cEnv { free(p) } }
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(stdinPipe[0]); stdinPipe[0] = -1
        close(errPipe[1]); errPipe[1] = -1
        if outPipe[1] >= 0 { close(outPipe[1]); outPipe[1] = -1 }
        guard rc == 0 else {
            closeAll()
            throw SystemError("cannot run \(argv[0])", errno: rc)
        }

        // The feeder thread owns the write end from here on.
        final class Feeder: @unchecked Sendable {
            let fd: Int32
            let input: @Sendable (inout FileSink) throws -> Void
            init(_ fd: Int32, _ input: @escaping @Sendable (inout FileSink) throws -> Void) { self.fd = fd; self.input = input }
        }
        let feeder = Unmanaged.passRetained(Feeder(stdinPipe[1], input)).toOpaque()
        stdinPipe[1] = -1
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { arg in
            let f = Unmanaged<Feeder>.fromOpaque(arg!).takeRetainedValue()
            // A child that exits without reading its input must give this thread EPIPE, not
            // kill the whole process with SIGPIPE: the signal is blocked on this thread only (a
            // write's SIGPIPE goes to the thread that wrote), and dies with it.
            var block = sigset_t()
            sigemptyset(&block)
            sigaddset(&block, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &block, nil)
            var sink = FileSink(fd: f.fd, path: "child's standard input")
            // A child that stops reading early (EPIPE) is not an error here: its exit status says.
            do { try f.input(&sink); try sink.flush() } catch {}
            close(f.fd)
            return nil
        }, feeder)
        if created != 0 {
            let f = Unmanaged<Feeder>.fromOpaque(feeder).takeRetainedValue()
            close(f.fd)
        }

        var result = Result(exitCode: nil, signal: nil, timedOut: false, output: [], errorOutput: [], outputTruncated: false)
        let deadline = options.timeout > 0 ? monotonicSeconds() + options.timeout : .infinity
        var killAt = Double.infinity
        var open = [outPipe[0], errPipe[0]].filter { $0 >= 0 }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let now = monotonicSeconds()
            if now >= deadline && !result.timedOut {
                result.timedOut = true
                kill(-pid, SIGTERM)
                killAt = now + 2
            }
            if now >= killAt { kill(-pid, SIGKILL); killAt = .infinity }
            let wait = min(deadline, killAt) - now
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), wait.isFinite ? Int32(max(1, min(wait * 1000, 60_000))) : 60_000)
            if n < 0 && currentErrno() != EINTR { break }
            guard n > 0 else { continue }
            for p in fds where p.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && currentErrno() == EINTR { continue }
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                    continue
                }
                if p.fd == outPipe[0] {
                    let room = max(0, options.outputLimit - result.output.count)
                    result.output += buffer[0..<min(room, count)]
                    if count > room { result.outputTruncated = true }
                } else {
                    let room = max(0, options.errorLimit - result.errorOutput.count)
                    result.errorOutput += buffer[0..<min(room, count)]
                }
            }
        }
        // The pipes are closed; a child that closed them but hangs on is still bounded.
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, result.timedOut || options.timeout <= 0 ? 0 : WNOHANG)
            if r == pid { break }
            if r < 0 && currentErrno() != EINTR { break }
            if r == 0 {
                if monotonicSeconds() >= deadline {
                    result.timedOut = true
                    kill(-pid, SIGKILL)
                } else {
                    usleep(2000)
                }
            }
        }
        if created == 0 { pthread_join(thread, nil) }
        if (status & 0x7F) == 0 {
            result.exitCode = (status >> 8) & 0xFF
        } else {
            result.signal = status & 0x7F
        }
        return result
    }

    /// Runs `argv` with `bytes` on its standard input.
    public static func run(_ argv: [String], environment: [String], options: Options = Options(),
                           input bytes: [UInt8]) throws -> Result {
        try run(argv, environment: environment, options: options) { sink in try sink.write(bytes) }
    }

    /// Looks `name` up in `path` (a colon-separated list) unless it contains a slash.
    public static func locate(_ name: String, path: String = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin") -> String? {
        if name.contains("/") { return name }
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 && !Posix.isDirectory(candidate) { return candidate }
        }
        return nil
    }

    /// Seconds on the monotonic clock (for deadlines and unique names).
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

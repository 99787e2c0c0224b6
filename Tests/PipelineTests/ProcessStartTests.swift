#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Pipeline

@Suite("main-thread executor")
struct MainThreadExecutorTests {
    /// Work that suspends (a sleep, resumed by a timer on another thread) comes back to the
    /// thread that called `run`, and `run` returns the body's result.
    @Test func runsEverythingOnTheCallingThreadAndReturnsTheResult() {
        let caller = pthread_self()
        let seen = Locked<[pthread_t]>([])
        let code = MainThreadExecutor().run {
            seen.withLock { $0.append(pthread_self()) }
            try? await Task.sleep(nanoseconds: 5_000_000)
            seen.withLock { $0.append(pthread_self()) }
            await Task.yield()
            seen.withLock { $0.append(pthread_self()) }
            return 42
        }
        #expect(code == 42)
        let threads = seen.withLock { $0 }
        #expect(threads.count == 3)
        #expect(threads.allSatisfy { pthread_equal($0, caller) != 0 })
    }

    @Test func aBodyThatNeverSuspendsReturnsAtOnce() {
        #expect(MainThreadExecutor().run { 7 } == 7)
    }
}

@Suite("static NSS")
struct StaticNSSTests {
    @Test func debiansDefaultIsAnsweredByTheBuiltinSources() {
        let conf = """
        # /etc/nsswitch.conf
        passwd:         files systemd
        group:          files systemd
        shadow:         files systemd
        gshadow:        files systemd

        hosts:          files dns
        networks:       files
        protocols:      db files
        services:       db files
        ethers:         db files
        rpc:            db files
        netgroup:       nis
        """
        #expect(StaticNSS.unsupportedSources(nsswitch: conf) == nil)
    }

    @Test func aModuleForUsersOrHostsNeedsTheDynamicProgram() {
        #expect(StaticNSS.unsupportedSources(nsswitch: "passwd: files ldap\n")
                == "/etc/nsswitch.conf: passwd uses ldap, which a statically linked program cannot load")
        #expect(StaticNSS.unsupportedSources(nsswitch: "group: sss files\n") != nil)
        #expect(StaticNSS.unsupportedSources(nsswitch: "hosts: files mdns4_minimal [NOTFOUND=return] dns\n") != nil)
        #expect(StaticNSS.unsupportedSources(nsswitch: "passwd: compat\n") != nil)
    }

    @Test func actionsAndCommentsAreNotSources() {
        #expect(StaticNSS.unsupportedSources(nsswitch: "hosts: files [NOTFOUND=return] dns # mdns4\n") == nil)
        #expect(StaticNSS.unsupportedSources(nsswitch: "hosts: files [ NOTFOUND=return ] dns\n") == nil)
        #expect(StaticNSS.unsupportedSources(nsswitch: "#passwd: ldap\nnetgroup: nis\n") == nil)
    }

    /// A test binary is dynamically linked: the static-only paths stay off.
    @Test func aDynamicProgramIsNotStatic() {
        #expect(!StaticNSS.isStaticExecutable)
        StaticNSS.handOffIfStatic(reason: "test")   // returns: nothing to hand over
    }
}

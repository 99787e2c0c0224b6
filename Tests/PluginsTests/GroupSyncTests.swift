#if canImport(Glibc)
import Glibc
#endif
import Testing
import PipelineTestKit
import Pipeline
@testable import Plugins

@Suite("group commit")
struct GroupSyncTests {
    @Test func concurrentCallersShareFlushesAndEachWaitsForALaterOne() throws {
        let dir = TempDir()
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        let group = GroupSync()
        let callers = 64
        let threads = UnsafeMutablePointer<pthread_t>.allocate(capacity: callers)
        defer { threads.deallocate() }
        final class Context: @unchecked Sendable {
            let group: GroupSync
            let fd: Int32
            var failures = 0
            init(group: GroupSync, fd: Int32) { self.group = group; self.fd = fd }
        }
        let context = Context(group: group, fd: fd)
        let raw = Unmanaged.passRetained(context).toOpaque()
        for i in 0..<callers {
            pthread_create(&threads[i], nil, { arg in
                let c = Unmanaged<Context>.fromOpaque(arg!).takeUnretainedValue()
                let before = c.group.flushes
                do { try c.group.sync(c.fd, path: "test") } catch { c.failures += 1 }
                // A flush that started after the call must have finished.
                if c.group.flushes <= before { c.failures += 1 }
                return nil
            }, raw)
        }
        for i in 0..<callers { pthread_join(threads[i], nil) }
        Unmanaged<Context>.fromOpaque(raw).release()
        #expect(context.failures == 0)
        #expect(group.flushes >= 1)
        #expect(group.flushes < UInt64(callers), "flushes are shared: \(group.flushes) for \(callers) callers")
    }

    @Test func aBadDescriptorIsAnError() {
        #expect(throws: (any Error).self) { try GroupSync().sync(-1, path: "bad") }
    }
}

@Suite("Maildir sync modes")
struct MaildirSyncModeTests {
    @Test(arguments: ["always", "group", "none"])
    func everyModeDeliversIntoNew(_ mode: String) throws {
        let dir = TempDir()
        let group = GroupSync()
        let sync = try #require(MaildirSync.named(mode, group: group))
        let md = Maildir(path: dir.path + "/M", hostName: "h", sync: sync)
        for _ in 0..<3 { _ = try md.deliver(try Message.literal("Subject: x\n\nb\n")) }
        #expect(dir.list(dir.path + "/M/new").count == 3)
        #expect(dir.list(dir.path + "/M/tmp").isEmpty)
        if mode == "group" { #expect(group.flushes == 6, "two shared flushes per delivery when alone") }
        #expect(MaildirSync.named("sometimes", group: group) == nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets

// `mdad-fuzz TARGET FILE…` runs the files through a fuzz target (to reproduce a crash).
// Built by fuzz/run.sh with -sanitize=fuzzer,address -DFUZZING, it hands control to libFuzzer
// for the target named in MDAD_FUZZ_TARGET, with libFuzzer's own options on the command line.

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

nonisolated(unsafe) var selected: (@Sendable ([UInt8]) -> Void)?

let name = getenv("MDAD_FUZZ_TARGET").map { String(cString: $0) } ?? ""
guard let target = FuzzTargets.all[name] else {
    print("set MDAD_FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))")
    exit(2)
}
selected = target
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    selected?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
})
#else
let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, let target = FuzzTargets.all[name] else {
    print("usage: mdad-fuzz TARGET FILE...   targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))")
    exit(2)
}
for path in args.dropFirst() {
    guard let f = fopen(path, "rb") else { print("cannot open \(path)"); exit(1) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    fclose(f)
    target(bytes)
    print("\(path): ok")
}
#endif

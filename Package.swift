// swift-tools-version:6.2
import PackageDescription

// Warnings are errors in mdad's own targets (SE-0480 keeps this out of packages that depend on us).
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "mdad",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mdad", targets: ["mdad"]),
        .executable(name: "mdad-deliver", targets: ["mdad-deliver"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Plugins", targets: ["Plugins"]),
        .library(name: "PipelineTestKit", targets: ["PipelineTestKit"]),
        .library(name: "LMTPServer", targets: ["LMTPServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The core: message model, envelope and transaction, stages and the chain runner,
        // main.cf configuration, delivery status codes, the maillog format.
        .target(
            name: "Pipeline",
            dependencies: ["CPCRE2", "CCDB", "CSystemShims", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // PCRE2 (8-bit) as a system library; only Pipeline's Regex wrapper talks to it.
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        // MIME parse-and-decode benchmark (bench/mime.sh); not a test.
        .executableTarget(name: "MIMEBench", dependencies: ["Pipeline"], swiftSettings: strict),
        // tinycdb for compiled tables (cdb:), as Postfix's postalias/postmap write them.
        .systemLibrary(name: "CCDB", pkgConfig: "libcdb", providers: [.apt(["libcdb-dev"])]),
        // Thin shims over system calls Swift's Glibc module does not declare (syncfs, pipe2).
        .target(name: "CSystemShims"),
        // Built-in stages and delivery backends (Maildir) and local delivery (`mdad deliver`).
        .target(
            name: "Plugins",
            dependencies: ["Pipeline", "CSystemShims", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // What a stage author needs to test a stage in a few lines.
        .target(
            name: "PipelineTestKit",
            dependencies: ["Pipeline"],
            swiftSettings: strict
        ),
        // The LMTP daemon: the session as a value type, the NIO listeners, the service.
        .target(
            name: "LMTPServer",
            dependencies: [
                "Pipeline", "Plugins", "CSystemShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // `mdad deliver` as a small program of its own for mailbox_command: it runs once per
        // message, and without the argument parser, Foundation and NIO it starts ~0.4 ms sooner.
        .executableTarget(name: "mdad-deliver", dependencies: ["Pipeline", "Plugins"], swiftSettings: strict),
        // The program: argument parsing and wiring only.
        .executableTarget(
            name: "mdad",
            dependencies: [
                "Pipeline", "Plugins", "LMTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "PipelineTestKit"],
            resources: [.copy("MIMECorpus")]
        ),
        .testTarget(name: "PluginsTests", dependencies: ["Plugins", "Pipeline", "PipelineTestKit"]),
        // The example package's stage and its tests (examples/custom-stage), compiled here too so
        // CI checks them without a second build of mdad's dependencies.
        .testTarget(
            name: "ExampleStageTests",
            dependencies: ["Pipeline", "PipelineTestKit"],
            path: "examples/custom-stage",
            exclude: ["Package.swift", "build.sh", "Sources/my-mdad"],
            sources: ["Sources/UrgentStage", "Tests/UrgentStageTests"]
        ),
        .testTarget(name: "LMTPServerTests", dependencies: ["LMTPServer", "Pipeline"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Pipeline", "Plugins", "mdad", "mdad-deliver"],
            exclude: ["Scripts"],
            resources: [.copy("Corpus"), .copy("imap_fetch.py")]
        ),
    ]
)

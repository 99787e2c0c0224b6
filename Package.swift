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
        .executable(name: "mdad-procmail", targets: ["mdad-procmail"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Plugins", targets: ["Plugins"]),
        .library(name: "PipelineTestKit", targets: ["PipelineTestKit"]),
        .library(name: "Spam", targets: ["Spam"]),
        .library(name: "LMTPServer", targets: ["LMTPServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // TLS to PostgreSQL (postgres-nio takes an NIOSSLContext); already in the graph through postgres-nio.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
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
        // The rewrite stage alone (bench/rewrite.sh); not a test.
        .executableTarget(name: "RewriteBench", dependencies: ["Pipeline", "Plugins", "PipelineTestKit"], swiftSettings: strict),
        // tinycdb for compiled tables (cdb:), as Postfix's postalias/postmap write them.
        .systemLibrary(name: "CCDB", pkgConfig: "libcdb", providers: [.apt(["libcdb-dev"])]),
        // OpenSSL's libcrypto for HMAC-SHA1 (the SRS hash); Plugins/SRS is its only user.
        .systemLibrary(name: "CCrypto"),
        // Thin shims over system calls Swift's Glibc module does not declare (syncfs, pipe2).
        .target(name: "CSystemShims"),
        // SpamAssassin-compatible rule engine, the `spam` stage and `mdad spam check|lint`: a
        // target of its own so that its thousands of lines build in parallel with Plugins and a
        // change to a rule type recompiles nothing else.
        .target(
            name: "Spam",
            dependencies: ["Pipeline", "CLMDB", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // LMDB for the Bayes token store (concurrent readers while one learner writes).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // Built-in stages and delivery backends (Maildir) and local delivery (`mdad deliver`).
        .target(
            name: "Plugins",
            dependencies: ["Pipeline", "Spam", "CSystemShims", "CCrypto", .product(name: "Logging", package: "swift-log")],
            exclude: ["Pgsql"],
            swiftSettings: strict
        ),
        // `pgsql:` tables (pgsql_table(5)) through postgres-nio. A target of its own inside
        // Plugins so that mdad-deliver, whose start-up is part of every delivery, does not link
        // NIO, TLS and Foundation; the programs that want it register it (PgsqlTableType.register()).
        .target(
            name: "PgsqlTable",
            dependencies: [
                "Pipeline",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Plugins/Pgsql",
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
                "Pipeline", "Plugins", "CSystemShims", "Spam",
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
        // The relay's network side: the SMTP client over NIO (STARTTLS, implicit TLS) and the
        // queue manager that `mdad serve` runs. The queue, the SMTP session as a value type and
        // the admin commands live in Plugins/Relay; this target only moves bytes, so
        // mdad-deliver does not link TLS.
        .target(
            name: "RelayClient",
            dependencies: [
                "Pipeline", "Plugins",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // `mdad deliver` as a small program of its own for mailbox_command: it runs once per
        // message, and without the argument parser, Foundation and NIO it starts ~0.4 ms sooner.
        .executableTarget(name: "mdad-deliver", dependencies: ["Pipeline", "Plugins"], swiftSettings: strict),
        // `mdad procmail` likewise, for mailbox_command and .forward (one process per message).
        .executableTarget(name: "mdad-procmail", dependencies: ["Pipeline", "Plugins"], swiftSettings: strict),
        // The program: argument parsing and wiring only.
        .executableTarget(
            name: "mdad",
            dependencies: [
                "Pipeline", "Plugins", "LMTPServer", "PgsqlTable", "RelayClient", "Spam",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Fuzzing entry points (one per parser), shared by the libFuzzer driver and the replay tests.
        .target(name: "FuzzTargets", dependencies: ["Pipeline", "Plugins", "LMTPServer", "Spam"], swiftSettings: strict),
        // The libFuzzer driver (fuzz/run.sh builds it with -sanitize=fuzzer,address -DFUZZING);
        // built normally, it replays files through a target.
        .executableTarget(name: "mdad-fuzz", dependencies: ["FuzzTargets"], swiftSettings: strict),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Pipeline", "PipelineTestKit"],
            resources: [.copy("MIMECorpus")]
        ),
        .testTarget(name: "PluginsTests", dependencies: ["Plugins", "Pipeline", "PipelineTestKit"]),
        .testTarget(name: "SpamTests", dependencies: ["Spam", "Pipeline", "PipelineTestKit"]),
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
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "Plugins"], resources: [.copy("Corpus")]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Pipeline", "Plugins", "PgsqlTable", "PipelineTestKit", "mdad", "mdad-deliver"],
            exclude: ["Scripts"],
            resources: [.copy("Corpus"), .copy("imap_fetch.py")]
        ),
    ]
)

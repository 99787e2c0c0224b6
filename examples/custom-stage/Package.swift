// swift-tools-version:6.2
// An mdad of your own: mdad's libraries plus your stages, registered in one line (main.swift).
import PackageDescription

let package = Package(
    name: "my-mdad",
    platforms: [.macOS(.v14)],
    dependencies: [
        // In your own package: .package(url: "https://github.com/OWNER/mdad", from: "…").
        .package(name: "mdad", path: "../.."),
    ],
    targets: [
        .target(name: "UrgentStage", dependencies: [.product(name: "Pipeline", package: "mdad")]),
        .executableTarget(name: "my-mdad", dependencies: [
            "UrgentStage",
            .product(name: "Pipeline", package: "mdad"),
            .product(name: "Plugins", package: "mdad"),
            .product(name: "LMTPServer", package: "mdad"),
        ]),
        .testTarget(name: "UrgentStageTests", dependencies: [
            "UrgentStage",
            .product(name: "Pipeline", package: "mdad"),
            .product(name: "PipelineTestKit", package: "mdad"),
        ]),
    ]
)

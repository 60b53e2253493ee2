// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "moonflow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "moonflow", targets: ["MoonflowCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // C libraries from the system (Debian: libyaml-dev, liblua5.4-dev).
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // Lua's function-like macros, the bounded allocator, the hook and the only place that raises Lua errors.
        .target(name: "CLuaSupport", dependencies: ["CLua"]),

        .target(
            name: "MoonflowModel",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")]
        ),
        .target(name: "MoonflowYAML", dependencies: ["CYAML", "MoonflowModel", .product(name: "OrderedCollections", package: "swift-collections")]),
        .target(name: "MoonflowSchema", dependencies: ["MoonflowModel", .product(name: "OrderedCollections", package: "swift-collections")]),
        .target(
            name: "MoonflowLoader",
            dependencies: [
                "MoonflowModel", "MoonflowYAML", "MoonflowSchema",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "MoonflowLua",
            dependencies: [
                "MoonflowModel", "CLua", "CLuaSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "MoonflowEngine",
            dependencies: [
                "MoonflowModel", "MoonflowSchema",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The SQLite store (GRDB over the system SQLite, libsqlite3-dev).
        .target(
            name: "MoonflowStore",
            dependencies: ["MoonflowModel", "MoonflowEngine", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // `moonflow serve`: HTTP API, auth, triggers, timers and hot reload as services of one ServiceGroup.
        .target(
            name: "MoonflowServer",
            dependencies: [
                "MoonflowModel", "MoonflowSchema", "MoonflowLoader", "MoonflowLua", "MoonflowEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "MoonflowCLI",
            dependencies: [
                "MoonflowModel", "MoonflowYAML", "MoonflowSchema", "MoonflowLoader", "MoonflowLua", "MoonflowEngine",
                "MoonflowStore",
                "MoonflowServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "MoonflowModelTests", dependencies: ["MoonflowModel"]),
        .testTarget(name: "MoonflowYAMLTests", dependencies: ["MoonflowYAML", "MoonflowModel"]),
        .testTarget(name: "MoonflowSchemaTests", dependencies: ["MoonflowSchema", "MoonflowModel"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MoonflowLoaderTests",
            dependencies: ["MoonflowLoader", "MoonflowModel", "MoonflowYAML", "MoonflowLua", "MoonflowSchema"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "MoonflowLuaTests", dependencies: ["MoonflowLua", "MoonflowModel"]),
        .testTarget(name: "MoonflowEngineTests", dependencies: ["MoonflowEngine", "MoonflowModel", "MoonflowLoader", "MoonflowLua"]),
        .testTarget(
            name: "MoonflowStoreTests",
            dependencies: ["MoonflowStore", "MoonflowEngine", "MoonflowModel", "MoonflowLoader", "MoonflowLua"]
        ),
        // The bench tests reach a scenario registry of their own through `@testable import MoonflowCLI`.
        .testTarget(
            name: "MoonflowCLITests",
            dependencies: [
                "MoonflowCLI", "MoonflowModel", "MoonflowEngine", "MoonflowStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "MoonflowServerTests",
            dependencies: [
                "MoonflowServer", "MoonflowEngine", "MoonflowModel", "MoonflowLoader",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

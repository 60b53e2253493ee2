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
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.36.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // OTLP/HTTP trace export (docs/operations.md, tracing); the default gRPC trait is off so gRPC is not built.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.3.1"),
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
        // The sandbox helper's second wall: posix_spawn, rlimits and the seccomp filter (docs/sandbox.md).
        // The forbidden-call probe exists only in debug builds (the isolation tests use it).
        .target(name: "CIsolation", cSettings: [.define("MF_ISOLATION_PROBE", .when(configuration: .debug))]),

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
                "MoonflowModel", "CLua", "CLuaSupport", "CIsolation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
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
        // Requests through moonflow.yaml's connections: egress checks, auth, limits (async-http-client).
        .target(
            name: "MoonflowHTTP",
            dependencies: [
                "MoonflowModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // The SQLite store (GRDB over the system SQLite, libsqlite3-dev).
        .target(
            name: "MoonflowStore",
            dependencies: [
                "MoonflowModel", "MoonflowEngine", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // The PostgreSQL store (postgres-nio): many engine processes on one database (docs/scale-out.md).
        .target(
            name: "MoonflowPostgres",
            dependencies: [
                "MoonflowModel", "MoonflowEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // The composition root: project loading, pinned definitions, the store the configuration
        // selects, the Lua runner, the engine; for `moonflow serve` the served project and its
        // background services; logging and metrics set-up for the edge.
        .target(
            name: "MoonflowRuntime",
            dependencies: [
                "MoonflowModel", "MoonflowLoader", "MoonflowLua", "MoonflowEngine", "MoonflowStore", "MoonflowHTTP", "MoonflowPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The HTTP API of `moonflow serve` over a served runtime: router, middleware, routes, the web console (Resources/console).
        .target(
            name: "MoonflowServer",
            dependencies: [
                "MoonflowModel", "MoonflowLoader", "MoonflowEngine", "MoonflowRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            // The web console's HTML, CSS and JavaScript modules (docs/console.md), served as they are.
            resources: [.copy("Resources/console")]
        ),
        // `moonflow bench`: the scenarios and the floors they are measured against.
        .target(
            name: "MoonflowBench",
            dependencies: [
                "CLua", "CYAML", "MoonflowModel", "MoonflowSchema", "MoonflowLoader", "MoonflowLua", "MoonflowEngine",
                "MoonflowRuntime", "MoonflowServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "MoonflowCLI",
            dependencies: [
                "MoonflowModel", "MoonflowSchema", "MoonflowLoader", "MoonflowLua", "MoonflowEngine", "MoonflowStore",
                "MoonflowRuntime", "MoonflowServer", "MoonflowBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),

        // What the tests share and ship nowhere: the throwaway PostgreSQL cluster.
        .target(name: "MoonflowTestSupport", path: "Tests/MoonflowTestSupport"),

        .testTarget(name: "MoonflowModelTests", dependencies: ["MoonflowModel"]),
        .testTarget(name: "MoonflowYAMLTests", dependencies: ["MoonflowYAML", "MoonflowModel"]),
        .testTarget(name: "MoonflowSchemaTests", dependencies: ["MoonflowSchema", "MoonflowModel"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MoonflowLoaderTests",
            dependencies: [
                "MoonflowLoader", "MoonflowModel", "MoonflowYAML", "MoonflowLua", "MoonflowSchema",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "MoonflowLuaTests",
            dependencies: ["MoonflowLua", "MoonflowModel", "CLua", .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        .testTarget(
            name: "MoonflowEngineTests",
            dependencies: [
                "MoonflowEngine", "MoonflowModel", "MoonflowLua",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .testTarget(
            name: "MoonflowStoreTests",
            dependencies: [
                "MoonflowStore", "MoonflowPostgres", "MoonflowEngine", "MoonflowModel", "MoonflowLoader", "MoonflowRuntime",
                "MoonflowTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "MoonflowRuntimeTests",
            dependencies: [
                "MoonflowRuntime", "MoonflowEngine", "MoonflowModel", "MoonflowStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The bench tests reach the scenarios' types through `@testable import MoonflowBench`.
        .testTarget(
            name: "MoonflowCLITests",
            dependencies: [
                "MoonflowCLI", "MoonflowBench", "MoonflowModel", "MoonflowEngine", "MoonflowStore", "MoonflowPostgres",
                "MoonflowTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Requests against a real HTTP service on a loopback port (`ServiceStub`, NIO); the spans
        // of traced runs at a collector made of one (`TracingTests`).
        .testTarget(
            name: "MoonflowHTTPTests",
            dependencies: [
                "MoonflowHTTP", "MoonflowModel", "MoonflowEngine", "MoonflowLoader", "MoonflowLua", "MoonflowRuntime", "MoonflowStore",
                "MoonflowServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        .testTarget(
            name: "MoonflowServerTests",
            dependencies: [
                "MoonflowServer", "MoonflowRuntime", "MoonflowEngine", "MoonflowModel", "MoonflowLoader",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Imports are internal unless a file says otherwise (`package import`): a module's package
// declarations name only the modules it imports for them.
for target in package.targets where target.type != .system && !["CLuaSupport", "CIsolation"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("InternalImportsByDefault")]
}

// Under CI (`CI` set, as on the CI machine; `CI=true make test` here) the warnings of our own
// targets are errors. Dependencies' warnings are not ours to fix, so they stay warnings.
if Context.environment["CI"] != nil {
    for target in package.targets where target.type != .system {
        if target.name == "CLuaSupport" || target.name == "CIsolation" {
            target.cSettings = (target.cSettings ?? []) + [.unsafeFlags(["-Werror"])]
        } else {
            target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-warnings-as-errors"])]
        }
    }
}

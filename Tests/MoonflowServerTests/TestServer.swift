import AsyncHTTPClient
import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel
import MoonflowRuntime
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

@testable import MoonflowServer

/// Tokens of the test configuration; `moonflow.yaml` would hold only their SHA-256.
enum Tokens {
    static let admin = "admin-token-0123456789"
    static let `operator` = "operator-token-0123456789"
    static let alice = "alice-token-0123456789"
    static let bob = "bob-token-0123456789"
    static let carol = "carol-token-0123456789"

    /// Read through `EngineConfigLoader`, as `moonflow serve` reads `moonflow.yaml`.
    static let config = config(adding: "")

    /// The test configuration with more `moonflow.yaml` lines.
    static func config(adding lines: String) -> EngineConfig {
        let yaml = """
            auth:
              tokens:
                - {token: \(admin), role: admin}
                - {token: \(`operator`), role: operator}
                - {token: \(alice), role: user, user: alice}
                - {token: \(bob), role: user, user: bob}
                - {token: \(carol), role: user, user: carol, groups: [tier2]}
            \(lines)
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-tokens-\(UUID().uuidString).yaml")
        try? yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return (try? EngineConfigLoader.load(file, required: true).get()) ?? EngineConfig()
    }
}

/// An HTTP answer: the status, the body text and, when it is JSON, the value.
struct Answer {
    var status: Int
    var text: String
    var headers: HTTPHeaders = [:]
    var json: Value { (try? Value(json: text)) ?? .null }
}

/// A real client against the listening server.
struct Client {
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    func send(_ method: NIOHTTP1.HTTPMethod, _ path: String, token: String? = Tokens.admin, body: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        return Answer(status: Int(response.status.code), text: String(buffer: bytes), headers: response.headers)
    }

    func get(_ path: String, token: String? = Tokens.admin) async throws -> Answer { try await send(.GET, path, token: token) }

    func post(_ path: String, _ body: Value? = nil, token: String? = Tokens.admin) async throws -> Answer {
        try await send(.POST, path, token: token, body: body?.jsonString())
    }

    /// Polls the run until `done` holds for its summary (runs are driven in the background).
    func waitForRun(_ id: String, timeout: Duration = .seconds(20), until done: (Value) -> Bool) async throws -> Value {
        let deadline = ContinuousClock.now + timeout
        while true {
            let run = try await get("/v1/runs/\(id)").json
            if done(run) || ContinuousClock.now > deadline { return run }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func waitForStatus(_ id: String, _ statuses: Set<String>) async throws -> Value {
        try await waitForRun(id) { statuses.contains($0["status"]?.stringValue ?? "") }
    }
}

/// A temporary project with the given files, served on an ephemeral loopback port for `body`.
enum TestServer {
    static func project(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-server-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        for folder in ["workflows", "scripts", "schemas"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        return root
    }

    /// The runtime `moonflow serve` builds, over the test project, with the test tokens.
    static func runtime(
        project: URL, config: EngineConfig = Tokens.config, store: any RunStore = InMemoryRunStore(), clock: any EngineClock = SystemClock(),
        logger: Logger = quietLogger
    ) throws -> Runtime {
        try Runtime.make(
            RuntimeOptions(
                project: project, config: config, store: .existing(store), logger: logger, clock: clock,
                serving: ServingOptions()))
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "moonflow-test")
        logger.logLevel = .warning
        return logger
    }

    static func run(
        project: URL, insecure: Bool = false, config: EngineConfig = Tokens.config, _ body: @Sendable (Client) async throws -> Void
    ) async throws {
        try await run(runtime: runtime(project: project, config: config), ServerOptions(port: 0, insecureNoAuth: insecure, keepAlive: .milliseconds(200))) {
            client, _ in try await body(client)
        }
    }

    /// Serves `runtime` with `options` on an ephemeral loopback port for `body`, then shuts down
    /// gracefully.
    static func run(
        runtime: Runtime, _ options: ServerOptions, _ body: @Sendable (Client, ServerCore) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = try MoonflowServer.makeApplication(options, runtime: runtime) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [application], logger: runtime.logger))
        let core = ServerCore(served: try #require(runtime.served))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            do {
                try await body(Client(port: port), core)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func run(
        _ files: [String: String], insecure: Bool = false, config: EngineConfig = Tokens.config,
        _ body: @Sendable (Client) async throws -> Void
    ) async throws {
        let root = try project(files)
        defer { try? FileManager.default.removeItem(at: root) }
        try await run(project: root, insecure: insecure, config: config, body)
    }
}

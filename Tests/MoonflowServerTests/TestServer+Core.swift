import Foundation
import Hummingbird
import Logging
import MoonflowEngine
import Testing

@testable import MoonflowServer

extension TestServer {
    /// The router `moonflow serve` builds (over an empty project), to list its routes.
    static func router() throws -> Router<APIContext> {
        let runtime = try runtime(project: FileManager.default.temporaryDirectory, logger: Logger(label: "router-test"))
        return MoonflowServer.makeRouter(core: ServerCore(served: try #require(runtime.served)), authenticator: Authenticator(tokens: []))
    }

    /// `run` with options of the test's choosing, and the server's core (its engine, store and
    /// event bus) for what a test must do inside the process.
    static func run(
        _ files: [String: String], insecure: Bool = false, limits: ServerLimits = ServerLimits(), store: any RunStore = InMemoryRunStore(),
        _ body: @Sendable (Client, ServerCore) async throws -> Void
    ) async throws {
        let root = try project(files)
        defer { try? FileManager.default.removeItem(at: root) }
        try await run(project: root, insecure: insecure, limits: limits, store: store, body)
    }

    /// `run` over a project folder the test keeps (to write files into while the server runs).
    static func run(
        project root: URL, insecure: Bool = false, limits: ServerLimits = ServerLimits(), store: any RunStore = InMemoryRunStore(),
        clock: any EngineClock = SystemClock(), _ body: @Sendable (Client, ServerCore) async throws -> Void
    ) async throws {
        let options = ServerOptions(port: 0, insecureNoAuth: insecure, keepAlive: .milliseconds(200), limits: limits)
        try await run(runtime: runtime(project: root, store: store, clock: clock), options, body)
    }
}

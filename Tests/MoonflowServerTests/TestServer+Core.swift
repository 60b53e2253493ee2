import Foundation
import Logging
import MoonflowEngine
import ServiceLifecycle

@testable import MoonflowServer

extension TestServer {
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
        var logger = Logger(label: "moonflow-test")
        logger.logLevel = .warning
        let options = ServerOptions(
            project: root, port: 0, config: Tokens.config, insecureNoAuth: insecure, store: store, clock: clock, keepAlive: .milliseconds(200),
            limits: limits, logger: logger)
        let core = MoonflowServer.makeCore(options)
        let descriptors = DescriptorLimit.raiseToHardLimit()
        let cap = try limits.connectionCap(descriptorLimit: descriptors)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = MoonflowServer.makeApplication(options, core: core, connectionCap: cap, descriptors: descriptors) { port in
            continuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
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
}

import Logging
import MoonflowEngine
import ServiceLifecycle

/// The engine loop: drives every run it is given until the run ends or waits, several at once.
///
/// At start it recovers what a previous process left unfinished (queued, running, compensating;
/// `Engine.runsToRecover`). On graceful shutdown it stops taking new work and lets the drives in
/// flight finish; the service group's grace period bounds that wait, and a drive cut short is
/// picked up again by the next process (at-least-once, docs/durability.md).
public final class RunDispatcher: Service {
    let engine: Engine
    let logger: Logger
    private let work: AsyncStream<RunID>
    private let continuation: AsyncStream<RunID>.Continuation

    public init(engine: Engine, logger: Logger) {
        self.engine = engine
        self.logger = logger
        (work, continuation) = AsyncStream.makeStream()
    }

    /// Asks for the run to be driven; returns at once.
    public func submit(_ runID: RunID) { continuation.yield(runID) }

    public func run() async throws {
        let recovered = try await engine.runsToRecover()
        if !recovered.isEmpty { logger.info("recovering unfinished runs", metadata: ["count": "\(recovered.count)"]) }
        recovered.forEach(submit)
        await withDiscardingTaskGroup { group in
            for await runID in work.cancelOnGracefulShutdown() {
                group.addTask { await self.drive(runID) }
            }
        }
    }

    private func drive(_ runID: RunID) async {
        do {
            _ = try await engine.drive(runID)
        } catch {
            logger.error("drive failed", metadata: ["run.id": .string(runID), "error": .string("\(error)")])
        }
    }
}

package import Logging
import Metrics
package import MoonflowEngine
import ServiceLifecycle
import Synchronization

/// The engine loop: drives every run it is given until the run ends or waits, several at once.
///
/// At start it recovers what a previous process left unfinished (queued, running, compensating;
/// `Engine.runsToRecover`), unless the store is shared (docs/scale-out.md). On graceful shutdown it stops taking new work and lets the drives in
/// flight finish; the service group's grace period bounds that wait, and a drive cut short is
/// picked up again by the next process (at-least-once, docs/durability.md).
///
/// Its backlog is the runs it was given and has not yet driven to their end or first wait. Starts
/// a client asks for go through `admitting`, which refuses them while the backlog holds
/// `backlogLimit` runs, so acceptance cannot outrun execution without bound. Runs given by the
/// engine itself (recovered, admitted from the run queue, started by a schedule or an emitted
/// event) always enter: they were accepted already, and nothing accepted is dropped.
///
/// Submitted runs wait in a plain list; the loop is woken once for however many arrived and
/// starts a drive for each. (Through an `AsyncStream` of run ids, the loop took one run per turn
/// of the cooperative pool; under HTTP load a turn is the length of every request in flight, so
/// runs started a few hundred a second while thousands were accepted.)
package final class RunDispatcher: Service {
    let engine: Engine
    let logger: Logger
    /// Runs the backlog holds before client starts are refused (`server.run_backlog`).
    package let backlogLimit: Int
    /// Whether it drives every unfinished run at start (a store of one process); on a shared
    /// store the runs to take over are claimed instead (`ClaimService`).
    let recovers: Bool
    private let backlog = Atomic<Int>(0)
    /// `moonflow_starts_refused_total`.
    private let refusals = Counter(label: "moonflow_starts_refused_total")
    /// Runs submitted and not yet handed to a drive.
    private let submitted = Mutex<[RunID]>([])
    /// One element when `submitted` may hold runs the loop has not taken.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    package init(engine: Engine, logger: Logger, backlogLimit: Int, recovers: Bool = true) {
        self.engine = engine
        self.logger = logger
        self.backlogLimit = backlogLimit
        self.recovers = recovers
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Runs given and not yet driven to their end or first wait.
    package var backlogCount: Int { backlog.load(ordering: .relaxed) }

    /// Asks for the run to be driven; returns at once. The run enters the backlog whatever its size.
    package func submit(_ runID: RunID) {
        backlog.add(1, ordering: .relaxed)
        enqueue(runID)
    }

    /// Adds the run to `submitted`, waking the loop when the list was empty (otherwise a wake-up
    /// is pending already, and the loop takes the whole list when it comes).
    private func enqueue(_ runID: RunID) {
        let first = submitted.withLock { list in
            list.append(runID)
            return list.count == 1
        }
        if first { wake.yield() }
    }

    /// Runs `start` for a client with a place held in the backlog, or throws `RunBacklogFull` when
    /// the backlog holds `backlogLimit` runs. `start` gets the function that submits each run it
    /// creates: the first takes the place held, others enter beyond it (one event may start
    /// several runs); a start that creates nothing gives the place back.
    package func admitting<T>(_ start: (_ submit: (RunID) -> Void) async throws -> T) async throws -> T {
        guard reservePlace() else {
            refusals.increment()
            throw RunBacklogFull(limit: backlogLimit)
        }
        var holding = true
        defer { if holding { backlog.subtract(1, ordering: .relaxed) } }
        return try await start { runID in
            if holding {
                holding = false
                enqueue(runID)
            } else {
                submit(runID)
            }
        }
    }

    private func reservePlace() -> Bool {
        var current = backlog.load(ordering: .relaxed)
        while current < backlogLimit {
            let (exchanged, original) = backlog.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    package func run() async throws {
        let recovered = recovers ? try await engine.runsToRecover() : []
        if !recovered.isEmpty { logger.info("recovering unfinished runs", metadata: ["count": "\(recovered.count)"]) }
        recovered.forEach(submit)
        await withDiscardingTaskGroup { group in
            for await _ in wakeups.cancelOnGracefulShutdown() {
                let taken = submitted.withLock { list in
                    defer { list = [] }
                    return list
                }
                for runID in taken {
                    group.addTask { await self.drive(runID) }
                }
            }
        }
    }

    private func drive(_ runID: RunID) async {
        defer { backlog.subtract(1, ordering: .relaxed) }
        do {
            _ = try await engine.drive(runID)
        } catch {
            logger.error("drive failed", metadata: ["run.id": .string(runID), "error": .string("\(error)")])
        }
    }
}

/// A client's start refused because the dispatcher's backlog is full: the API answers 503 with
/// `Retry-After` (docs/api.md, "Back-pressure").
package struct RunBacklogFull: Error, Sendable, CustomStringConvertible {
    package var limit: Int
    /// `Retry-After`: the header counts whole seconds, and a backlog drains in about that long at
    /// the rates the engine drives runs (docs/performance.md).
    package static let retryAfterSeconds = 1

    package var description: String {
        "\(limit) runs are started and not driven yet (server.run_backlog): the server takes no new start until they are; retry later"
    }
}

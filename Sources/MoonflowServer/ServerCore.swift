import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime

/// The routes' view of the served project: its engine, store, catalog and dispatcher, and
/// starting runs with the API's errors. Starting a run only stores it; the dispatcher drives it.
final class ServerCore: Sendable {
    let served: ServedProject

    init(served: ServedProject) { self.served = served }

    var engine: Engine { served.engine }
    var store: any RunStore { served.store }
    var catalog: LiveCatalog { served.catalog }
    var dispatcher: RunDispatcher { served.dispatcher }
    var logger: Logger { served.logger }

    /// Starts a run of the current definition of `workflowID`. Idempotent with `runID` (which
    /// must follow `RunIDRule`): a run started with the same workflow and input is returned as is;
    /// any other start under an existing id is a 409 conflict, and nothing changes. While the
    /// dispatcher's backlog is full nothing is started: 503 with `Retry-After`.
    func startRun(
        _ workflowID: String, input: Value, runID: RunID?, priority: Int = 0, breakBefore: [String] = [], traceParent: TraceParent? = nil
    ) async throws -> StartedRun {
        guard let loaded = catalog.current(workflowID) else {
            throw APIError.notFound("no workflow '\(workflowID)' is served (unknown, deleted, or never valid)")
        }
        let started: RunStart
        do {
            started = try await dispatcher.admitting { submit in
                let started = try await engine.startRun(
                    loaded.pinned, input: input, runID: runID, priority: priority, breakBefore: breakBefore, traceParent: traceParent)
                if started.created { submit(started.runID) }
                return started
            }
        } catch let error as RunIDError {
            throw APIError.badBody(error.reason, path: "$.run_id", ["pattern": .string(RunIDRule.pattern)])
        } catch EngineError.runIDConflict(let id, let reason) {
            throw APIError(.conflict, "Conflict", EngineError.runIDConflict(id, reason: reason).description)
        } catch let error as EngineError {
            guard case .unknownActivity = error else { throw error }
            throw APIError.badBody(error.description, path: "$.debug.break_before")
        }
        return StartedRun(runID: started.runID, workflow: workflowID, created: started.created)
    }

    /// Starts the runs an event triggers (`ServedProject.postEvent`), unless the dispatcher's
    /// backlog is full (503 with `Retry-After`, nothing started).
    func postEvent(_ event: PostedEvent) async throws -> EventOutcome {
        try await dispatcher.admitting { submit in try await served.postEvent(event, submit: submit) }
    }

    /// Reloads the project and logs the outcome (docs/reload.md).
    @discardableResult
    func reload(reason: String) -> ReloadOutcome { served.reload(reason: reason) }
}

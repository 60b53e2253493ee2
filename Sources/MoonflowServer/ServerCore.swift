import Foundation
import Logging
import MoonflowEngine
import MoonflowLoader
import MoonflowModel

/// A run the API or a trigger asked for, and whether this request created it (a start with a
/// known `run_id`, or a repeated event, returns the existing run).
struct StartedRun: Sendable {
    var runID: RunID
    var workflow: String
    var created: Bool
}

/// What the routes and the trigger services share: the engine, its store, the catalog, and the
/// dispatcher that drives runs. Starting a run only stores it; the dispatcher drives it.
final class ServerCore: Sendable {
    let engine: Engine
    let store: any RunStore
    let catalog: LiveCatalog
    let dispatcher: RunDispatcher
    let logger: Logger

    init(engine: Engine, store: any RunStore, catalog: LiveCatalog, dispatcher: RunDispatcher, logger: Logger) {
        self.engine = engine
        self.store = store
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.logger = logger
    }

    /// Starts a run of the current definition of `workflowID`. Idempotent with `runID` (which
    /// must follow `RunIDRule`): a run started with the same workflow and input is returned as is;
    /// any other start under an existing id is a 409 conflict, and nothing changes.
    func startRun(_ workflowID: String, input: Value, runID: RunID?, priority: Int = 0) async throws -> StartedRun {
        guard let loaded = catalog.current(workflowID) else {
            throw APIError.notFound("no workflow '\(workflowID)' is served (unknown, deleted, or never valid)")
        }
        let started: RunStart
        do {
            started = try await engine.startRun(loaded.pinned, input: input, runID: runID, priority: priority)
        } catch let error as RunIDError {
            throw APIError.badBody(error.reason, path: "$.run_id", ["pattern": .string(RunIDRule.pattern)])
        } catch EngineError.runIDConflict(let id, let reason) {
            throw APIError(.conflict, "Conflict", EngineError.runIDConflict(id, reason: reason).description)
        }
        if started.created { dispatcher.submit(started.runID) }
        return StartedRun(runID: started.runID, workflow: workflowID, created: started.created)
    }

    /// Starts the runs an event triggers (docs/workflow-format.md): the current definitions' event triggers
    /// decide (`conditions`, `when`, `input`, `dedupe`). A run started for a `dedupe` key (or an
    /// event `id`) gets an engine-made id derived from it (`EngineRunID.event`), so a second event
    /// with the key returns that run, across reloads and restarts too, and no caller can have
    /// created a run under that id beforehand. A workflow whose input schema refuses the event
    /// starts nothing and the refusal is kept as a dead letter; the others start (`Engine.post`).
    func postEvent(_ event: PostedEvent) async throws -> EventOutcome {
        try await engine.post(event, to: catalog.triggers) { dispatcher.submit($0) }
    }

    /// Reloads the project and logs the outcome (docs/reload.md).
    @discardableResult
    func reload(reason: String) -> ReloadOutcome {
        let outcome = catalog.reload()
        ProjectWatcher.log(outcome, logger: logger, reason: reason)
        return outcome
    }
}

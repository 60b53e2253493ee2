import Crypto
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
    let runner: any ScriptRunning
    let logger: Logger

    init(engine: Engine, store: any RunStore, catalog: LiveCatalog, dispatcher: RunDispatcher, runner: any ScriptRunning, logger: Logger) {
        self.engine = engine
        self.store = store
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.runner = runner
        self.logger = logger
    }

    /// Starts a run of the current definition of `workflowID`. Idempotent with `runID`: an existing
    /// run of the same workflow is returned as is; one of another workflow is a conflict.
    func startRun(_ workflowID: String, input: Value, runID: RunID?, event: Value? = nil, priority: Int = 0) async throws -> StartedRun {
        guard let loaded = catalog.current(workflowID) else {
            throw APIError.notFound("no workflow '\(workflowID)' is served (unknown, deleted, or never valid)")
        }
        if let runID, let existing = try await store.state(of: runID) {
            guard existing.workflow == workflowID else {
                throw APIError(.conflict, "Conflict", "run '\(runID)' exists and belongs to workflow '\(existing.workflow)'")
            }
            return StartedRun(runID: runID, workflow: workflowID, created: false)
        }
        let id = try await engine.start(loaded.pinned, input: input, runID: runID, event: event, priority: priority)
        dispatcher.submit(id)
        return StartedRun(runID: id, workflow: workflowID, created: true)
    }

    /// Starts the runs an event triggers (SPEC §5.11): the current definitions' event triggers
    /// decide (`conditions`, `when`, `input`, `dedupe`). A run started for a `dedupe` key (or an
    /// event `id`) gets an id derived from it, so the store's idempotent start refuses a second
    /// run for it, across reloads and restarts too.
    func postEvent(type: String, payload: Value, eventID: String?) async throws -> [StartedRun] {
        var started: [StartedRun] = []
        for match in await catalog.triggers.match(type: type, payload: payload, evaluator: runner) {
            let workflowID = match.workflow.workflow.id
            let key = match.dedupeKey.map { "dedupe\u{0}\($0)" } ?? eventID.map { "event\u{0}\($0)" }
            let runID = key.map { Self.derivedRunID(workflow: workflowID, key: $0) }
            if let runID, try await store.state(of: runID) != nil {
                started.append(StartedRun(runID: runID, workflow: workflowID, created: false))
                continue
            }
            let id = try await engine.start(match.workflow, input: match.input, runID: runID, event: payload)
            dispatcher.submit(id)
            started.append(StartedRun(runID: id, workflow: workflowID, created: true))
        }
        return started
    }

    /// Reloads the project and logs the outcome (SPEC §7).
    @discardableResult
    func reload(reason: String) -> ReloadOutcome {
        let outcome = catalog.reload()
        ProjectWatcher.log(outcome, logger: logger, reason: reason)
        return outcome
    }

    /// A stable run id for a workflow and a key: `evt-` and 32 hexadecimal digits.
    static func derivedRunID(workflow: String, key: String) -> RunID {
        let digest = SHA256.hash(data: Array("\(workflow)\u{0}\(key)".utf8))
        return "evt-" + digest.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

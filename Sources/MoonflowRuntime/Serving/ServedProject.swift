import Foundation
package import Logging
package import MoonflowEngine
import MoonflowModel
package import Prometheus
package import ServiceLifecycle

/// How a project is served (`moonflow serve`).
package struct ServingOptions: Sendable {
    /// How often the project's files are checked for changes (docs/reload.md).
    package var watchInterval: Duration
    /// How long a change must stay still before it is loaded.
    package var debounce: Duration
    /// How often runs past `store.retention` are looked for (`RetentionService`).
    package var retentionInterval: Duration = .seconds(600)
    /// `false`: no file watcher runs, so the project reloads only when asked (`POST /v1/reload`,
    /// SIGHUP) — what a caller that asserts a reload's answer needs, with nothing reloading
    /// between its edit and its request.
    package var watchesFiles: Bool

    package init(watchInterval: Duration = .milliseconds(50), debounce: Duration = .milliseconds(100), watchesFiles: Bool = true) {
        self.watchInterval = watchInterval
        self.debounce = debounce
        self.watchesFiles = watchesFiles
    }
}

/// A run an API call or a trigger asked for, and whether this request created it (a start with a
/// known `run_id`, or a repeated event, returns the existing run).
package struct StartedRun: Sendable {
    package var runID: RunID
    package var workflow: String
    package var created: Bool

    package init(runID: RunID, workflow: String, created: Bool) {
        self.runID = runID
        self.workflow = workflow
        self.created = created
    }
}

/// The project as `moonflow serve` runs it: the current definitions (a `LiveCatalog`, reloaded as
/// files change), the engine over them, the dispatcher that drives runs in the background, and
/// the services that start and continue runs without a caller: durable timers, schedules, events
/// scripts emit, the file watcher and SIGHUP reloads. Starting a run only stores it; the
/// dispatcher drives it.
package final class ServedProject: Sendable {
    package let engine: Engine
    package let store: any RunStore
    package let catalog: LiveCatalog
    package let dispatcher: RunDispatcher
    package let logger: Logger
    /// The process's registry (`RuntimeMetrics.prometheus`), which the engine's metrics go to and
    /// the server serves at `/metrics`; `nil` with `monitoring: {metrics: false}`, when the
    /// process never bootstraps metrics and `/metrics` is a 404.
    package let metrics: PrometheusCollectorRegistry?
    /// Delivers the runs' notifications; redelivers a dead-lettered one (`redrive`).
    package let outbox: NotificationOutbox
    private let project: URL
    private let options: ServingOptions
    /// `store.retention`; `nil` keeps every run.
    private let retention: Duration?
    /// The span exporter (`RunTracingSetup`) when tracing is enabled.
    private let tracing: (any Service)?

    init(
        project: URL, engine: Engine, store: any RunStore, catalog: LiveCatalog, outbox: NotificationOutbox, logger: Logger,
        metrics: PrometheusCollectorRegistry?, runBacklog: Int, retention: Duration?, tracing: (any Service)? = nil, options: ServingOptions
    ) {
        self.tracing = tracing
        self.project = project
        self.retention = retention
        self.outbox = outbox
        self.engine = engine
        self.store = store
        self.catalog = catalog
        self.logger = logger
        self.metrics = metrics
        self.options = options
        // After `metrics`: the dispatcher's counter binds to the backend bootstrapped by then.
        // On a shared store the runs to recover are claimed (`ClaimService`), not all taken.
        let dispatcher = RunDispatcher(engine: engine, logger: logger, backlogLimit: runBacklog, recovers: !(store is any SharedRunStore))
        self.dispatcher = dispatcher
        engine.onAdmission { dispatcher.submit($0) }
        catalog.onReload { workflows in
            for workflow in workflows { engine.updateConcurrency(workflow: workflow.id, limits: workflow.concurrency) }
        }
    }

    /// The engine loop (which recovers unfinished runs first), durable timers, schedules,
    /// emitted-event triggers, the file watcher, SIGHUP reloads and notification deliveries, to run once in one
    /// `ServiceGroup` (the HTTP server adds them to its application).
    package func makeServices() -> [any Service] {
        let claims: [any Service] = (store as? any SharedRunStore).map { [ClaimService(store: $0, dispatcher: dispatcher, logger: logger)] } ?? []
        var retention: [any Service] = []
        if let durable = store as? any DurableRunStore, let kept = self.retention {
            retention = [RetentionService(store: durable, clock: engine.clock, retention: kept, interval: options.retentionInterval, logger: logger)]
        }
        let watcher: [any Service] =
            options.watchesFiles
            ? [ProjectWatcher(project: project, catalog: catalog, interval: options.watchInterval, debounce: options.debounce, logger: logger)] : []
        // The exporter first, so that it stops last: the spans of the drives that end at shutdown are exported.
        return (tracing.map { [$0] } ?? [])
            + [dispatcher, TimerService(engine: engine, logger: logger), ScheduleService(core: self), EmittedEventService(core: self)]
            + watcher + [ReloadSignalService(core: self), outbox] + claims + retention
    }

    /// Starts the runs an event triggers (docs/workflow-format.md): the current definitions' event triggers
    /// decide (`conditions`, `when`, `input`, `dedupe`). A run started for a `dedupe` key (or an
    /// event `id`) gets an engine-made id derived from it (`EngineRunID.event`), so a second event
    /// with the key returns that run, across reloads and restarts too, and no caller can have
    /// created a run under that id beforehand. A workflow whose input schema refuses the event
    /// starts nothing and the refusal is kept as a dead letter; the others start (`Engine.post`).
    package func postEvent(_ event: PostedEvent) async throws -> EventOutcome {
        try await postEvent(event, submit: dispatcher.submit)
    }

    /// `postEvent`, giving the runs started to `submit` (`RunDispatcher.admitting`'s).
    package func postEvent(_ event: PostedEvent, submit: (RunID) -> Void) async throws -> EventOutcome {
        try await engine.post(event, to: catalog.triggers, onCreated: submit)
    }

    /// Reloads the project and logs the outcome (docs/reload.md).
    @discardableResult
    package func reload(reason: String) -> ReloadOutcome {
        let outcome = catalog.reload()
        ProjectWatcher.log(outcome, logger: logger, reason: reason)
        return outcome
    }
}

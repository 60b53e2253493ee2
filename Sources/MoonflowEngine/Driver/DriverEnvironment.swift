import Logging
import MoonflowModel

/// What a run's driver, and the activity executions it starts, use of the engine: built once by
/// the `Engine` and shared by every drive. A class, so that a driver and each execution hold it
/// as one reference.
final class DriverEnvironment: Sendable {
    let store: any RunStore
    /// Where committed events are published.
    let bus: EventBus
    let clock: any EngineClock
    /// Runs code actions and evaluates expressions.
    let runner: any ScriptRunning
    /// Makes `call: http` requests through moonflow.yaml's connections; `nil`: the engine has none.
    let http: (any HTTPCalling)?
    let validator: any SchemaValidating
    /// The policies around an activity's attempts, and whether an activity needs any (docs/resilience.md).
    let executor: ActivityExecutor
    /// moonflow.yaml's `resources`: the sandbox limits of every code action, under its `limits:`
    /// and its `timeout` (none there: the runner's default wall time).
    let scriptLimits: ScriptLimits
    let logger: Logger
    let metrics: EngineMetrics
    let failpoints: Failpoints
    /// How long a run's writes wait out a full disk or a locked database.
    let storageRetry: StorageRetry
    /// Where a driver registers its mailbox, so that cancel and terminate reach it while it runs.
    let leases: RunLeases
    /// The spans of runs and attempts; `nil` (tracing disabled): nothing is traced, nothing is spent.
    let tracing: (any RunTracing)?

    init(
        store: any RunStore, bus: EventBus, clock: any EngineClock, runner: any ScriptRunning, http: (any HTTPCalling)?,
        validator: any SchemaValidating,
        executor: ActivityExecutor, scriptLimits: ScriptLimits, logger: Logger, metrics: EngineMetrics, failpoints: Failpoints,
        storageRetry: StorageRetry, leases: RunLeases, tracing: (any RunTracing)?
    ) {
        self.store = store
        self.bus = bus
        self.clock = clock
        self.runner = runner
        self.http = http
        self.validator = validator
        self.executor = executor
        self.scriptLimits = scriptLimits
        self.logger = logger
        self.metrics = metrics
        self.failpoints = failpoints
        self.storageRetry = storageRetry
        self.leases = leases
        self.tracing = tracing
    }
}

/// What a driver asks of the run level above it (the `Engine`): run admission, and the child runs
/// of `type: workflow` activities, each driven by a driver of its own.
protocol DriverHost: Sendable {
    /// Whether the run in `state` (queued) still waits in the run queue for a slot (docs/resilience.md).
    func isQueued(_ state: RunState) async throws -> Bool
    /// A run that waited goes on: it holds a slot again.
    func resumed(_ runID: RunID, workflow: String) async throws
    /// The run waits (on a human, a timer or a child) or ended: its slot goes to the next queued run.
    func releaseSlot(of runID: RunID) async throws
    /// Starts the child run of an activity under `runID` (never adopting a run it did not start)
    /// and drives it; returns its state after the drive.
    func driveChild(_ runID: RunID, workflow: String, input: Value, parent: ParentLink) async throws -> RunState
    /// Stops a child run that is not being driven (it waits).
    func stopChild(_ runID: RunID, _ ending: RunEnding) async throws
}

extension Logger {
    /// This logger with a run's metadata, and the activity's and the attempt's. Built only for a
    /// line that is logged: setting metadata on a stream handler re-renders it, which cost more
    /// than the rest of a step.
    func run(_ runID: RunID, workflow: String, activity: String? = nil, attempt: Int? = nil) -> Logger {
        var logger = self
        logger[metadataKey: "run.id"] = .string(runID)
        logger[metadataKey: "workflow"] = .string(workflow)
        if let activity { logger[metadataKey: "activity"] = .string(activity) }
        if let attempt { logger[metadataKey: "attempt"] = .stringConvertible(attempt) }
        return logger
    }
}

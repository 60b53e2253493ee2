package import Logging
package import MoonflowModel

/// A run's identifier.
package typealias RunID = String

/// A workflow definition with what it is pinned to (content hash and file texts), as a run starts.
package struct PinnedWorkflow: Sendable, Hashable {
    package var workflow: Workflow
    package var definition: PinnedDefinition
    package var hash: String { definition.hash }

    package init(workflow: Workflow, definition: PinnedDefinition) {
        self.workflow = workflow
        self.definition = definition
    }

    /// A definition built in code, without file texts: only this process can drive its runs.
    package init(workflow: Workflow, hash: String) {
        self.init(workflow: workflow, definition: PinnedDefinition(workflowID: workflow.id, hash: hash))
    }
}

/// Where the engine finds the workflow a `type: workflow` activity starts as a child run.
package protocol WorkflowCatalog: Sendable {
    func workflow(id: String) async -> PinnedWorkflow?
}

package enum EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownRun(RunID)
    /// `resumeCompensation` of a run that is not `compensation_failed`.
    case notCompensationFailed(RunID, RunStatus)
    /// A start named a run that exists and was started by another request: another workflow,
    /// another input, or another origin (the API answers 409).
    case runIDConflict(RunID, reason: String)
    /// An operator action the run's state does not allow (pause a finished run, redrive a
    /// completed one…): nothing changed.
    case refused(RunID, reason: String)
    /// A start named an activity the workflow does not declare (`break_before`, `rerun --from`).
    case unknownActivity(workflow: String, activity: String)
    package var description: String {
        switch self {
        case .unknownRun(let id): "unknown run '\(SafeText.display(id, limit: 256))'"
        case .notCompensationFailed(let id, let status):
            "run '\(id)' is \(status.rawValue); only a compensation_failed run can resume its compensation"
        case .runIDConflict(let id, let reason):
            "run '\(id)' exists and \(reason); a start with an existing run id must repeat the same workflow and input"
        case .refused(let id, let reason): "run '\(id)': \(reason)"
        case .unknownActivity(let workflow, let activity):
            "workflow '\(workflow)' has no activity '\(SafeText.display(activity, limit: 256))'"
        }
    }
}

/// What a start did: the run's id, and whether this start created it (`false`: an idempotent
/// repeat returned the existing run).
package struct RunStart: Sendable, Hashable {
    package var runID: RunID
    package var created: Bool
    package init(runID: RunID, created: Bool) {
        self.runID = runID
        self.created = created
    }
}

/// The run level of the engine (docs/resilience.md, docs/durability.md): starts runs, drives them through their graph until
/// they end or wait, cancels and terminates them, completes manual tasks, fires durable timers,
/// and reports. Runs live in the `RunStore`: a waiting run holds nothing in memory.
///
/// Every call that changes a run takes that run's lease, so one driver at a time writes its journal;
/// `cancel` and `terminate` also reach a driver that is running, through its mailbox.
package final class Engine: Sendable {
    let store: any RunStore
    let runner: any ScriptRunning
    /// The clock the engine reads and sleeps on; callers waiting for `nextTimer` use it too.
    package let clock: any EngineClock
    let logger: Logger
    let validator: any SchemaValidating
    let catalog: (any WorkflowCatalog)?
    let definitions: DefinitionCache
    let failpoints: Failpoints
    /// Breakers and bulkheads are shared by name by every run in the process (docs/resilience.md);
    /// a server passes the same registries to the engine it builds after a reload.
    package let breakers: CircuitBreakerRegistry
    package let bulkheads: BulkheadRegistry
    let leases = RunLeases()
    let admissionState: AdmissionState
    /// Every event of every run, as it is committed, plus events scripts emit.
    package let bus: EventBus
    let metrics = EngineMetrics()
    /// How long a run's writes wait out a full disk or a locked database (`StorageRetryPolicy`).
    package let storageRetry = StorageRetry()
    /// What run drivers use: the services above, the activity executor and the script limits.
    let environment: DriverEnvironment

    package init(
        store: any RunStore, runner: any ScriptRunning, http: (any HTTPCalling)? = nil, clock: any EngineClock = SystemClock(),
        random: any RandomSource = SystemRandomSource(), logger: Logger,
        validator: any SchemaValidating = AcceptingValidator(), catalog: (any WorkflowCatalog)? = nil,
        breakers: CircuitBreakerRegistry? = nil, bulkheads: BulkheadRegistry? = nil,
        resolver: (any DefinitionResolver)? = nil, failpoints: Failpoints = .none, limits: ConcurrencyLimits? = nil,
        resources: ScriptLimits = .defaults, tracing: (any RunTracing)? = nil
    ) {
        self.store = store
        self.runner = runner
        self.clock = clock
        self.logger = logger
        self.validator = validator
        self.catalog = catalog
        self.definitions = DefinitionCache(resolver: resolver)
        self.failpoints = failpoints
        let bus = EventBus()
        self.bus = bus
        let breakers =
            breakers ?? CircuitBreakerRegistry(clock: clock, onTransition: Engine.circuitTransitionRecorder(logger: logger, bus: bus))
        let bulkheads = bulkheads ?? BulkheadRegistry(clock: clock)
        self.breakers = breakers
        self.bulkheads = bulkheads
        self.admissionState = AdmissionState(limits: limits)
        // The engine-wide `concurrency.max_activities` (moonflow.yaml): activities of every run at once.
        let activityGate = limits?.maxActivities.map { Bulkhead.activityGate(maxActivities: $0, clock: clock) }
        let executor = ActivityExecutor(
            clock: clock, random: random, breakers: breakers, bulkheads: bulkheads, activityGate: activityGate, logger: logger)
        self.environment = DriverEnvironment(
            store: store, bus: bus, clock: clock, runner: runner, http: http, validator: validator, executor: executor, scriptLimits: resources,
            logger: logger, metrics: metrics, failpoints: failpoints, storageRetry: storageRetry, leases: leases,
            tracing: tracing)
    }

    /// Events from now on (docs/workflow-format.md).
    package func events() -> AsyncStream<RunEvent> { bus.subscribe() }

    /// Accepts a run durably (committed with its pinned definition) and returns its id; `drive`
    /// runs it. The input is validated against `workflow.input` first (`SchemaInvalid`, nothing
    /// stored). A caller-given `runID` must follow `RunIDRule` (`RunIDError` otherwise). Starts are
    /// idempotent: with a `runID` that exists already and was started with the same workflow and
    /// input (`StartHash`), nothing changes and that id is returned; any other start under that id
    /// throws `EngineError.runIDConflict`. Beyond `concurrency.max_workflows` (the workflow's or
    /// the engine's) the run stays `queued` in its place (`priority` orders it under
    /// `strategy: priority`) until a slot frees; past `max_size` it ends `failed` with `QueueFull`
    /// at once (docs/resilience.md).
    /// `breakBefore`: activities the run pauses before (docs/operations.md); each must be one the
    /// workflow declares (`EngineError.unknownActivity`, nothing stored).
    /// `traceParent`: the caller's W3C trace context, stored with the run (its trace continues the caller's).
    package func start(
        _ pinned: PinnedWorkflow, input: Value, runID: RunID? = nil, event: Value? = nil, priority: Int = 0, breakBefore: [String] = [],
        traceParent: TraceParent? = nil
    ) async throws -> RunID {
        try await startRun(
            pinned, input: input, runID: runID, event: event, priority: priority, breakBefore: breakBefore, traceParent: traceParent
        ).runID
    }

    /// `start`, saying whether this call created the run.
    package func startRun(
        _ pinned: PinnedWorkflow, input: Value, runID: RunID? = nil, event: Value? = nil, priority: Int = 0, breakBefore: [String] = [],
        traceParent: TraceParent? = nil
    ) async throws -> RunStart {
        if let runID { try RunIDRule.check(runID) }
        for name in breakBefore where pinned.workflow.activity(named: name) == nil {
            throw EngineError.unknownActivity(workflow: pinned.workflow.id, activity: name)
        }
        return try await create(
            pinned, input: input, runID: runID, event: event, parent: nil, origin: .request, priority: priority, breakBefore: breakBefore,
            traceParent: traceParent)
    }

    /// `start` for a definition built in code (no file texts to pin).
    package func start(
        workflow: Workflow, definitionHash: String, input: Value, runID: RunID? = nil, event: Value? = nil, priority: Int = 0
    ) async throws -> RunID {
        try await start(PinnedWorkflow(workflow: workflow, hash: definitionHash), input: input, runID: runID, event: event, priority: priority)
    }

    /// Starts the run of one schedule tick, under the tick's engine-made id
    /// (`EngineRunID.scheduleTick`): a tick fired twice (a restart between the start and the
    /// schedule's next look) starts one run. The tick is stored with the run (`RunOrigin.schedule`).
    package func startScheduled(_ pinned: PinnedWorkflow, tick: Timestamp, event: Value?) async throws -> RunStart {
        try await create(
            pinned, input: .object([:]), runID: EngineRunID.scheduleTick(workflow: pinned.workflow.id, tick: tick), event: event,
            parent: nil, origin: .schedule(tick: tick))
    }

    /// Starts the run an event triggers. With a `key` (the trigger's dedupe key, or the event's
    /// id) the run gets the engine-made id `EngineRunID.event`, and a second event with the key
    /// returns that run whatever its payload; without one, a fresh id.
    package func startTriggered(
        _ pinned: PinnedWorkflow, input: Value, key: String?, event: Value?, traceParent: TraceParent? = nil
    ) async throws -> RunStart {
        let runID = key.map { EngineRunID.event(workflow: pinned.workflow.id, key: $0) }
        return try await create(
            pinned, input: input, runID: runID, event: event, parent: nil, origin: key == nil ? .request : .event, traceParent: traceParent)
    }

    func create(
        _ pinned: PinnedWorkflow, input: Value, runID: RunID?, event: Value?, parent: ParentLink?, origin: RunOrigin, priority: Int = 0,
        breakBefore: [String] = [], rerun: Rerun? = nil, traceParent: TraceParent? = nil
    ) async throws -> RunStart {
        let workflow = pinned.workflow
        try validator.check(input, against: workflow.input, what: "the run input")
        let id = runID ?? RandomUUID.make()
        let startHash = StartHash.of(workflow: workflow.id, input: input)
        let request = StartRequest(workflow: workflow.id, startHash: startHash, parent: parent, origin: origin)
        // A repeated start returns the run it names without taking an admission slot.
        if runID != nil, let existing = try await store.state(of: id) { return try request.adopt(existing) }
        let now = clock.now
        let decision =
            if let shared = sharedStore {
                try await submitShared(shared, runID: id, workflow: workflow.id, limits: workflow.concurrency, priority: priority, now: now)
            } else {
                try await admission().submit(runID: id, workflow: workflow.id, limits: workflow.concurrency, priority: priority, now: now)
            }
        if decision == .duplicate {
            // Another start of this id is in flight in this process (it holds the admission entry).
            guard let existing = try await store.state(of: id) else {
                throw EngineError.runIDConflict(id, reason: "is being started by another request")
            }
            return try request.adopt(existing)
        }
        var place: QueuePlace?
        if case .queued(let entry) = decision { place = QueuePlace(sequence: entry.sequence, deadline: entry.deadline) }
        let queued = QueuedRun(
            version: workflow.version, definitionHash: pinned.hash, input: input, context: workflow.context,
            activities: workflow.activities.map(\.name), triggerEvent: event, priority: priority, startHash: startHash, origin: origin,
            parent: parent, queuePlace: place, breakBefore: breakBefore, rerunOf: rerun?.source, traceParent: traceParent)
        var events = [RunEvent(.runQueued(queued), runID: id, workflow: workflow.id, at: now)]
        if let rerun, !decision.rejects { events += rerun.adoptedEvents(runID: id, workflow: workflow.id, at: now) }
        if case .rejected(let failure) = decision {
            events.append(RunEvent(.runFailing(cause: .failed, error: failure, activity: nil), runID: id, workflow: workflow.id, at: now))
            events.append(RunEvent(.runFailed, runID: id, workflow: workflow.id, at: now))
        }
        guard let state = RunState.folding(events) else { return RunStart(runID: id, created: false) }
        definitions.remember(pinned)
        failpoints.reach(.beforeCommit, of: events)
        let created: Bool
        do {
            created = try await store.create(
                state, definition: pinned.definition, events: events, committed: Publication(announcing: events).publisher(on: bus))
        } catch {
            try await releaseSlot(of: id)
            throw error
        }
        guard created else {
            // The run existed already (and held no slot in this process): give back what `submit` took.
            try await releaseSlot(of: id)
            guard let existing = try await store.state(of: id) else { throw EngineError.unknownRun(id) }
            return try request.adopt(existing)
        }
        failpoints.reach(.afterCommit, of: events)
        // A slot another process freed while this run was being queued woke nobody for it.
        if case .queued = decision, sharedStore != nil { try await admitQueuedRuns() }
        if case .rejected(let failure) = decision {
            logger.warning("run refused: \(failure.message)", metadata: ["run.id": .string(id), "workflow": .string(workflow.id)])
        }
        return RunStart(runID: id, created: true)
    }

    /// Runs the run until it ends or waits (on a manual task, a child run or a durable timer) and
    /// returns its status. Due timers of the run fire first. A child run that ends lets its parent
    /// continue.
    package func drive(_ runID: RunID) async throws -> RunStatus {
        try await withDriverResumingParent(runID) { driver in try await driver.drive() }
    }

    /// Cancels a run: what is in flight is cancelled and waited for, then completed activities are
    /// compensated (docs/workflow-format.md). Ends `cancelled`, `compensated` or `compensation_failed`.
    package func cancel(_ runID: RunID) async throws -> RunStatus { try await stop(runID, .cancelled) }

    /// Stops a run at once: in-flight activities are cancelled, nothing is compensated.
    package func terminate(_ runID: RunID) async throws -> RunStatus { try await stop(runID, .terminated) }

    func stop(_ runID: RunID, _ ending: RunEnding) async throws -> RunStatus {
        leases.send(runID, .stop(ending))
        return try await withDriverResumingParent(runID) { driver in try await driver.stop(ending) }
    }

    /// Completes a manual task (docs/workflow-format.md) with the data a human submitted, then drives its run.
    /// Throws `TaskCompletionError` when the task is unknown, not open (`already_completed` for a
    /// second completion), `user` is not an assignee, or the data does not satisfy the form.
    package func completeTask(_ taskID: String, data: Value, user: TaskUser) async throws -> RunStatus {
        guard let task = try await store.task(id: taskID) else { throw TaskCompletionError.notFound(taskID) }
        // A task of a finished run is closed: this check also covers runs `withDriver` leaves alone.
        try task.checkOpen()
        return try await withDriverResumingParent(task.runID) { driver in
            try await driver.processDue()
            guard let current = driver.state.tasks[taskID] else { throw TaskCompletionError.notFound(taskID) }
            try current.checkOpen()
            guard current.isAssignee(user) else { throw TaskCompletionError.notAssignee(taskID: taskID, user: user.name) }
            if let form = current.form {
                let errors = validator.validate(data, against: form)
                guard errors.isEmpty else { throw TaskCompletionError.invalid(taskID: taskID, errors: errors) }
            }
            try await driver.completeTask(current, data: data, user: user.name)
            return try await driver.drive()
        }
    }

    /// Fires every durable timer that is due (reminders, task expiry, `sleep`, run deadlines) and
    /// drives the runs they belong to; returns those runs. A service calls this when
    /// `nextTimer` says so; tests call it after advancing a `ManualClock`.
    @discardableResult
    package func fireDueTimers() async throws -> [RunID] {
        var seen = Set<RunID>()
        let runs = try await store.dueTimers(at: clock.now).map(\.runID).filter { seen.insert($0).inserted }
        for runID in runs { _ = try await drive(runID) }
        return runs
    }

    /// The earliest durable timer of a run, when it has one.
    package func nextTimer(of runID: RunID) async throws -> Timestamp? {
        try await store.state(of: runID)?.timers.first?.at
    }
}

/// Accepts every value: the validator used until a JSON Schema validator is wired in.
package struct AcceptingValidator: SchemaValidating {
    package init() {}
    package func validate(_ value: Value, against schema: Value) -> [String] { [] }
}

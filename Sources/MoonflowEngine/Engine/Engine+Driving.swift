import MoonflowModel

/// How the engine hands a run to a `RunDriver`, and what a driver asks of it (`DriverHost`).
extension Engine: DriverHost {
    /// Runs `body` with a driver for the run, under the run's lease; a finished run is returned as is.
    /// A run that ends gives its admission slot to the next queued run.
    func withDriver(_ runID: RunID, _ body: (RunDriver) async throws -> RunStatus) async throws -> RunStatus {
        // On the runner's threads (`ScriptRunning.taskExecutor`): the driver, the activities' child
        // tasks and their scripts then run one after another without hand-offs.
        let status = try await withTaskExecutorPreference(runner.taskExecutor()) {
            try await leases.withLease(runID) {
                let stored = if let shared = sharedStore { try await shared.stateToDrive(of: runID) } else { try await store.state(of: runID) }
                guard let state = stored else { throw EngineError.unknownRun(runID) }
                if state.status.isTerminal { return state.status }
                let workflow = try await workflow(of: state)
                guard let tracing = environment.tracing else {
                    return try await body(driver(for: state, workflow: workflow, hash: state.definitionHash))
                }
                return try await tracing.drive(state, workflow: workflow) {
                    try await body(driver(for: state, workflow: workflow, hash: state.definitionHash))
                }
            }
        }
        // On a shared store a waiting run's slot is free too (its stored status no longer counts).
        if status.isTerminal || (status == .waiting && sharedStore != nil) { try await releaseSlot(of: runID) }
        return status
    }

    /// A driver for the run in `state`, under `workflow`.
    func driver(for state: RunState, workflow: Workflow, hash: String) -> RunDriver {
        RunDriver(environment: environment, host: self, scheduler: definitions.scheduler(for: workflow, hash: hash), state: state)
    }

    /// The workflow the run in `state` is pinned to: from the cache when this process knows its
    /// definition (the stored texts are then not read), else as `workflow(of:)`.
    func workflow(of state: RunState) async throws -> Workflow {
        if let cached = definitions.cached(workflow: state.workflow, hash: state.definitionHash) { return cached }
        return try await workflow(of: state.id)
    }

    /// The workflow a run is pinned to, rebuilt from its stored definition (cached by hash).
    func workflow(of runID: RunID) async throws -> Workflow {
        guard let definition = try await store.definition(of: runID) else { throw EngineError.unknownRun(runID) }
        return try await definitions.workflow(for: definition)
    }

    /// `withDriver`, then `resumeParent` with the driver's state: reading the run back from the
    /// store would refold its journal.
    func withDriverResumingParent(_ runID: RunID, _ body: (RunDriver) async throws -> RunStatus) async throws -> RunStatus {
        var driven: RunState?
        let status = try await withDriver(runID) { driver in
            defer { driven = driver.state }
            return try await body(driver)
        }
        try await resumeParent(of: runID, status: status, known: driven)
        return status
    }

    /// A child run that ended outside its parent's drive (a task completed, a timer fired) lets
    /// the parent settle the activity that started it. `known` is the run's state when the caller
    /// holds it; otherwise (no driver ran: the run had ended already) it is read from the store.
    func resumeParent(of runID: RunID, status: RunStatus, known: RunState? = nil) async throws {
        guard status.isTerminal else { return }
        let state = if let known { known } else { try await store.state(of: runID) }
        guard let parent = state?.parent else { return }
        _ = try await drive(parent.runID)
    }

    // MARK: - DriverHost

    func isQueued(_ state: RunState) async throws -> Bool {
        // On a shared store only a run created with a queue place was ever in the run queue.
        if let shared = sharedStore { return state.queuePlace != nil ? try await shared.waitsInQueue(state.id) : false }
        return try await admission().isWaiting(state.id)
    }

    func resumed(_ runID: RunID, workflow: String) async throws {
        // On a shared store the run's stored status counts it again.
        guard sharedStore == nil else { return }
        try await admission().resume(runID: runID, workflow: workflow)
    }

    func driveChild(_ runID: RunID, workflow: String, input: Value, parent: ParentLink) async throws -> RunState {
        guard let pinned = await catalog?.workflow(id: workflow) else {
            throw ActivityFailure(.activityError, "no workflow '\(workflow)' to start as a child run", retryable: false)
        }
        // Never adopts a run it did not start: one under this id with another parent, workflow or
        // input fails the activity (`runIDConflict`).
        _ = try await create(pinned, input: input, runID: runID, event: nil, parent: parent, origin: .child)
        // No upward propagation when it ends: the parent is listening.
        _ = try await withDriver(runID) { driver in try await driver.drive() }
        guard let child = try await store.state(of: runID) else { throw EngineError.unknownRun(runID) }
        return child
    }

    func stopChild(_ runID: RunID, _ ending: RunEnding) async throws {
        _ = try await withDriver(runID) { driver in try await driver.stop(ending) }
    }
}

import MoonflowModel
import OrderedCollections

/// The end of a run that failed, timed out, was cancelled or terminated (docs/workflow-format.md).
extension RunDriver {
    /// In-flight activities have been cancelled and waited for (`forward`). What still waits is
    /// cancelled now; then the run compensates, or ends.
    func windDown() async throws {
        guard let ending = state.ending else { return }
        for record in state.activities.values where record.status == .waiting || record.status.isInFlight {
            var events = [event(.activityCancelled(error: Self.stopFailure(ending), attempts: nil), record.name)]
            switch record.waitingOn {
            case .task(let id)?:
                if state.tasks[id]?.status == .open { events.insert(event(.taskCancelled(id: id), record.name), at: 0) }
            case .childRun(let id)?:
                try await host.stopChild(id, ending == .terminated ? .terminated : .cancelled)
            case .timer?, nil: break
            }
            try await commit(events)
        }
        if ending == .terminated { return try await commit([event(.runTerminated)]) }
        if state.status != .compensating {
            let plan = CompensationPlanner.compensates(workflow) ? CompensationPlanner.plan(workflow, state: state) : []
            guard !plan.isEmpty else {
                let final: RunEvent.Payload =
                    switch ending {
                    case .failed: .runFailed
                    case .timedOut: .runTimedOut
                    case .cancelled: .runCancelled
                    case .terminated: .runTerminated
                    }
                return try await commit([event(final)])
            }
            let steps = plan.map { PlannedCompensation(activity: $0.activity, handler: $0.handlerName) }
            try await commit([event(.runCompensating(plan: steps, deadline: compensationDeadline()))])
        }
        try await compensate()
    }

    /// The run's `error` as a compensation sees it: the failure that ended the run and the attempts
    /// its activity used (`null` for a run that was cancelled or timed out without one).
    var runErrorValue: Value {
        guard let error = state.error else { return .null }
        return error.errorValue(attempts: state.errorActivity.flatMap { state.activities[$0]?.attempts } ?? 0)
    }

    /// `compensation.timeout` from now, as the deadline of the compensation phase about to start.
    func compensationDeadline() -> Timestamp? { workflow.compensation.timeout.map { environment.clock.now + $0 } }

    /// Runs the pending compensations (`CompensationQueue`), then ends the run `compensated` or
    /// `compensation_failed`.
    private func compensate() async throws {
        var phase = DrivePhase.compensating(
            CompensationQueue(workflow: workflow, state: state, now: environment.clock.now))
        try await run(&phase)
        try await flush()
        guard !Task.isCancelled else { return }
        // Terminated while compensating: what ran was cancelled and nothing more started.
        if state.ending == .terminated { return try await commit([event(.runTerminated)]) }
        let allDone = state.compensations.allSatisfy { $0.status == .completed }
        try await commit([event(allDone ? .runCompensated : .runCompensationFailed)])
    }

    /// Starts the compensations the queue lets start now.
    func startCompensations(
        _ queue: inout CompensationQueue, _ group: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws {
        while !queue.halted, !queue.timedOut, state.ending != .terminated, running.isEmpty || queue.parallel,
            let name = queue.pending.popFirst()
        {
            if try await launchCompensation(name, queue.handlers[name], &group, mailbox) { running.insert(name) }
            queue.halted = queue.halt && state.compensations.contains { $0.status == .failed }
        }
    }

    /// Stages how a compensation ended; one the `compensation.timeout` cut short failed with `Timeout`.
    func settleCompensation(
        _ name: String, _ result: ActivityExecutionResult, _ outcome: ScriptOutcome?, _ queue: inout CompensationQueue
    ) {
        let cut = queue.timedOut ? result.cutByCompensationTimeout(workflow.compensation.timeout) : result
        stage([compensationResult(name, cut, outcome)])
        queue.halted = queue.halted || (queue.halt && state.compensations.contains { $0.status == .failed })
    }

    /// Starts one compensation as a durable activity with its own retry (default 5 attempts,
    /// exponential) and idempotency key. Its input is its `with`, which sees the original input
    /// (`input`), `output`, the context and the run's `error`; without `with`: `{input, output, error}`.
    /// Returns `false` when it failed before starting (recorded).
    private func launchCompensation(
        _ name: String, _ handler: Handler?, _ group: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws -> Bool {
        // A workflow-level compensation (`compensation.activities`) has no activity record: it sees
        // the run's input.
        let workflowLevel = workflow.compensation.activities.contains { $0.name == name }
        guard let handler, workflowLevel || state.activities[name] != nil else {
            let failure = ActivityFailure(.compensationFailed, "no compensation applies to '\(name)'")
            try await commit([event(.compensationFailed(error: failure, attempts: nil), name)])
            return false
        }
        let record = state.activities[name]
        let original: OrderedDictionary<String, Value> = [
            "input": record?.input ?? state.input, "output": record?.output ?? .null, "error": runErrorValue,
        ]
        let scope = expressionScope(original)
        let input: Value
        do {
            input = try await render(handler.with, scope: scope) ?? .object(original)
        } catch {
            try await commit([event(.compensationFailed(error: error, attempts: nil), name)])
            return false
        }
        let activity = Activity(
            name: name, body: handler.body, timeout: handler.timeout, retry: handler.retry ?? .compensationDefault)
        let compensation = state.compensations.first { $0.activity == name }
        // A pending compensation with attempts was interrupted by a crash: it continues as attempt n+1.
        let resume = compensation.flatMap { record in
            record.attempts > 0
                ? AttemptState(attemptsUsed: record.attempts, interruptions: 1, nextAttemptAt: nil, firstStartedAt: record.startedAt)
                : nil
        }
        let execution = ActivityExecution(
            environment: environment, workflow: workflow.id, activity: activity, input: input,
            context: bodyContext(
                for: name, role: .compensation, stepsUse: handler.body.stepsUse, timeout: handler.timeout,
                // The engine's limits, in the activity's isolation (docs/sandbox.md).
                limits: LimitOverrides(isolation: workflow.activity(named: name)?.limits.isolation)),
            scope: scope, mailbox: mailbox)
        group.addTask { await execution.run(resumeFrom: resume) }
        return true
    }

    private func compensationResult(_ name: String, _ result: ActivityExecutionResult, _ outcome: ScriptOutcome?) -> RunEvent {
        switch result {
        case .completed(let output, let attempts), .completedViaFallback(let output, let attempts, _):
            return event(.compensationCompleted(attempts: attempts, output: output, contextWrites: outcome?.contextWrites ?? [:]), name)
        case .skippedByFallback(let attempts, _):
            return event(.compensationCompleted(attempts: attempts, output: nil, contextWrites: outcome?.contextWrites ?? [:]), name)
        case .failed(let failure, let attempts):
            return event(.compensationFailed(error: failure, attempts: attempts), name)
        }
    }
}

/// The compensations of a run that compensates, as the drive loop starts them: one at a time in
/// plan order (`reverse`), or all at once (`parallel`); with `on_error: halt` the first failure
/// stops the rest, which stay pending. At the `compensation.timeout` deadline, what still runs is
/// cancelled and recorded as failed with `Timeout`, nothing more starts, and the run ends
/// `compensation_failed` (resumable).
struct CompensationQueue {
    /// The pending compensations, in plan order.
    var pending: ArraySlice<String>
    let handlers: [String: Handler]
    let parallel: Bool
    let halt: Bool
    /// A compensation failed under `on_error: halt`.
    var halted = false
    let deadline: Timestamp?
    var timedOut: Bool

    init(workflow: Workflow, state: RunState, now: Timestamp) {
        handlers = Dictionary(
            CompensationPlanner.plan(workflow, state: state).map { ($0.activity, $0.handler) }, uniquingKeysWith: { a, _ in a })
        pending = state.compensations.filter { $0.status == .pending }.map(\.activity)[...]
        parallel = workflow.compensation.strategy == .parallel
        halt = workflow.compensation.onError == .halt
        deadline = state.compensationDeadline
        timedOut = deadline.map { now >= $0 } ?? false
    }
}

extension ActivityExecutionResult {
    /// A compensation the `compensation.timeout` cancelled failed with `Timeout`, not `Cancelled`.
    func cutByCompensationTimeout(_ timeout: Duration?) -> ActivityExecutionResult {
        guard case .failed(let failure, let attempts) = self, failure.type == .cancelled else { return self }
        let limit = timeout.map { " (\($0))" } ?? ""
        return .failed(ActivityFailure(.timeout, "stopped: compensation.timeout\(limit) passed"), attempts: attempts)
    }
}

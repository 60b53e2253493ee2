import Logging
import MoonflowModel
import OrderedCollections

/// Drives one run for the length of one `Engine` call, under the run's lease. It is the run's only
/// writer: activities and compensations run as child tasks and report through a mailbox that the
/// drive loop consumes (`run(_:)`), so every transition is folded and written in order
/// (`RunJournal`). It sees the engine only through its `DriverEnvironment` and its `DriverHost`.
///
/// This file holds the entry points and the forward phase; `+Loop` the drive loop of both phases
/// and the reports it folds; `+Starting` how an activity starts; `+Waiting` tasks, timers and
/// child runs; `+WindDown` the end of a run that does not complete, with its compensations;
/// `+Scopes` what expressions and bodies see.
final class RunDriver {
    let environment: DriverEnvironment
    let host: any DriverHost
    let workflow: Workflow
    let scheduler: RunScheduler
    /// The fold of the run's journal, staged events included.
    private(set) var state: RunState
    private var journal: RunJournal
    /// Script and built-in activities (or compensations) running in the current phase, by name.
    var running: Set<String> = []
    /// Child runs driven in this drive: activity name → child run id.
    var children: [String: RunID] = [:]
    /// The stop of a script the forward phase runs in place (`runInPlace`); `nil` in other phases.
    var scriptStop: ScriptStop?

    init(environment: DriverEnvironment, host: any DriverHost, scheduler: RunScheduler, state: RunState) {
        self.environment = environment
        self.host = host
        self.workflow = scheduler.workflow
        self.scheduler = scheduler
        self.state = state
        self.journal = RunJournal(environment: environment, workflow: workflow)
    }

    // MARK: - Entry points

    /// Runs until the run ends or waits.
    func drive() async throws -> RunStatus {
        try await processDue()
        if state.status == .queued, state.ending == nil {
            // Still in the run queue (docs/resilience.md): it starts when admission gives it a slot.
            if try await host.isQueued(state) { return state.status }
            let deadline = workflow.timeout.map { environment.clock.now + $0 }
            // Written with the start of the first activities (or whatever the drive writes
            // first): a lone durable run pays one synced commit fewer. Until then nothing is
            // stored, and a crash leaves the run queued, to be started again.
            stage([event(.runStarted(deadline: deadline))])
        }
        if state.ending == nil { try await forward() }
        if state.ending != nil, !Task.isCancelled { try await windDown() }
        // Nothing a drive staged stays unwritten when it returns.
        try await flush()
        return state.status
    }

    /// Cancels or terminates a run no driver is running (the running driver got the message).
    func stop(_ ending: RunEnding) async throws -> RunStatus {
        if state.ending == nil || (ending == .terminated && state.ending != .terminated) {
            try await commitFailingFast(endingEvents(ending, failure: Self.stopFailure(ending), activity: nil))
        }
        return try await drive()
    }

    /// Reopens the failed compensations of a `compensation_failed` run and compensates again;
    /// with `repin`, under that definition from now on (recorded in the same journal entry).
    func resumeCompensation(repin: PinnedDefinition? = nil) async throws -> RunStatus {
        let deadline = compensationDeadline()
        guard let repin, repin.hash != state.definitionHash else {
            try await commitFailingFast([event(.runCompensationResumed(deadline: deadline, repin: nil))])
            return try await drive()
        }
        let resumed = event(
            .runCompensationResumed(
                deadline: deadline, repin: Repin(definitionHash: repin.hash, previousDefinitionHash: state.definitionHash)))
        try await journal.repin(&state, to: repin, with: resumed)
        return try await drive()
    }

    /// Pauses the run (an operator asked): nothing new starts from now on. A waiting run counts
    /// against `max_workflows` again while paused, as a running one does.
    func pause(drive driving: Bool) async throws -> RunStatus {
        let wasWaiting = state.status == .waiting
        try await commitFailingFast([event(.runPaused(.requested))])
        if wasWaiting { try await host.resumed(state.id, workflow: workflow.id) }
        return driving ? try await drive() : state.status
    }

    /// Lets a paused run go on: past the breakpoint it stopped at, to the next one; with `step`,
    /// for one activity.
    func unpause(step: Bool, drive driving: Bool) async throws -> RunStatus {
        try await commitFailingFast([event(.runUnpaused(step: step))])
        return driving ? try await drive() : state.status
    }

    /// Runs a failed, timed-out or cancelled run again from where it stopped; with `repin`, under
    /// that definition (recorded in the same journal entry).
    func redrive(repin: PinnedDefinition?, drive driving: Bool) async throws -> RunStatus {
        let deadline = workflow.timeout.map { environment.clock.now + $0 }
        guard let repin, repin.hash != state.definitionHash else {
            try await commitFailingFast([event(.runRedriven(deadline: deadline, repin: nil, activities: []))])
            return driving ? try await drive() : state.status
        }
        let redriven = event(
            .runRedriven(
                deadline: deadline, repin: Repin(definitionHash: repin.hash, previousDefinitionHash: state.definitionHash),
                activities: workflow.activities.map(\.name)))
        try await journal.repin(&state, to: repin, with: redriven)
        return driving ? try await drive() : state.status
    }

    func completeTask(_ task: TaskRecord, data: Value, user: String) async throws {
        try await commitFailingFast(
            [event(.taskCompleted(id: task.id, data: data, user: user), task.activity, attempt: task.attempt)]
                + completionEvents(task.activity, output: data, attempts: task.attempt, outcome: nil, rescued: nil))
    }

    // MARK: - The forward phase

    /// Starts ready activities and folds their reports until nothing runs any more; then the run
    /// completes, waits, or (it began to end) winds down.
    private func forward() async throws {
        if state.status == .waiting, scheduler.decide(state) != .wait {
            try await commit([event(.runResumed)])
            try await host.resumed(state.id, workflow: workflow.id)
        }
        // A paused run finishes what runs and starts nothing (`pump`, `pauseReason(before:)`).
        guard state.status == .running || state.status == .paused else { return }
        var phase = DrivePhase.forward
        try await run(&phase)
        guard !Task.isCancelled, state.ending == nil else { return try await flush() }
        // What the last steps staged is written with the run's next event when there is one:
        // the last completion and `run.completed` are one transition.
        let decision = scheduler.decide(state)
        if state.status == .paused, decision != .complete { return try await flush() }
        switch decision {
        case .complete: try await completeRun()
        case .wait:
            if state.status != .waiting {
                try await commit([event(.runWaiting)])
                // A run waiting on a human, a timer or a child does not hold a max_workflows slot.
                try await host.releaseSlot(of: state.id)
            } else {
                try await flush()
            }
        case .start, .awaitInFlight, .windDown: try await flush()
        }
    }

    /// The run's output: the `output` template, or the sink's output (several sinks: an object by name).
    private func completeRun() async throws {
        let output: Value
        do {
            if let template = workflow.output {
                output = try await render(template, scope: expressionScope()) ?? .null
            } else {
                let sinks = workflow.sinks.map { ($0.name, state.activities[$0.name]?.output ?? .null) }
                output = sinks.count == 1 ? sinks[0].1 : .object(OrderedDictionary(sinks, uniquingKeysWith: { a, _ in a }))
            }
        } catch {
            try await commit(endingEvents(.failed, failure: error, activity: nil))
            return try await windDown()
        }
        try await commit([event(.runCompleted(output: output))])
    }

    // MARK: - Events

    func event(_ payload: RunEvent.Payload, _ activity: String? = nil, attempt: Int? = nil, at: Timestamp? = nil) -> RunEvent {
        RunEvent(payload, runID: state.id, workflow: workflow.id, activity: activity, attempt: attempt, at: at ?? environment.clock.now)
    }

    /// `activity.completed` with the next `seq`, the context writes and the events the body emitted.
    func completionEvents(
        _ name: String, output: Value, attempts: Int, outcome: ScriptOutcome?, rescued: ActivityFailure?
    ) -> [RunEvent] {
        let completion = ActivityCompletion(
            seq: state.nextSeq, output: output, attempts: attempts, contextWrites: outcome?.contextWrites ?? [:],
            emitted: outcome?.events ?? [], rescued: rescued)
        return [event(.activityCompleted(completion), name)]
    }

    /// `activity.failed`, and `run.failing` when this failure ends the run; a cancellation while
    /// the run winds down is `activity.cancelled`.
    func failureEvents(_ name: String, _ failure: ActivityFailure, attempts: Int) -> [RunEvent] {
        if state.ending != nil {
            let payload: RunEvent.Payload =
                failure.type == .cancelled
                ? .activityCancelled(error: failure, attempts: attempts) : .activityFailed(error: failure, attempts: attempts)
            return [event(payload, name)]
        }
        return [event(.activityFailed(error: failure, attempts: attempts), name)] + endingEvents(.failed, failure: failure, activity: name)
    }

    func endingEvents(_ ending: RunEnding, failure: ActivityFailure, activity: String?) -> [RunEvent] {
        [event(.runFailing(cause: ending, error: failure, activity: activity))]
    }

    static func stopFailure(_ ending: RunEnding) -> ActivityFailure {
        ending == .terminated
            ? ActivityFailure(.cancelled, "terminated by an operator") : ActivityFailure(.cancelled, "cancelled by an operator")
    }

    /// One `activity.log` journal entry per script log entry of an attempt, then its recording
    /// (`activity.recorded`) when its built-ins answered anything a replay needs.
    func logEvents(_ name: String, attempt: Int, _ trace: ScriptTrace) -> [RunEvent] {
        trace.entries.map { event(.activityLog($0), name, attempt: attempt) }
            + (trace.recording.map { [event(.activityRecorded($0), name, attempt: attempt)] } ?? [])
    }

    /// The journal entry of a breaker transition this run's activity caused.
    func circuitEvent(_ activity: String, _ transition: CircuitTransition) -> RunEvent {
        event(transition.payload, activity, at: transition.at)
    }

    // MARK: - Journal

    /// Folds events into the state; they are written with the next `flush` or `commit`.
    func stage(_ events: [RunEvent]) { journal.stage(events, into: &state) }

    /// Writes what was staged and these events as one transition.
    func commit(_ events: [RunEvent]) async throws {
        stage(events)
        try await flush()
    }

    /// Commits the transition an operation's caller is waiting on (a task completion, a cancel or
    /// terminate, a resumed compensation): a storage fault fails it at once — nothing is stored and
    /// the caller is told — instead of being waited out; what the drive writes after it is retried.
    func commitFailingFast(_ events: [RunEvent]) async throws {
        stage(events)
        try await journal.flush(&state, failingFast: true)
    }

    /// Writes what was staged (`RunJournal.flush`).
    func flush() async throws { try await journal.flush(&state) }

    func logger(_ activity: String?, attempt: Int? = nil) -> Logger {
        environment.logger.run(state.id, workflow: workflow.id, activity: activity, attempt: attempt)
    }
}

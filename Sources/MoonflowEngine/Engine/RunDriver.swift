import Logging
import MoonflowModel
import OrderedCollections

/// Drives one run for the length of one `Engine` call, under the run's lease. It is the run's only
/// writer: activities run as child tasks and report through a mailbox that this driver consumes,
/// so every transition is folded and appended in order (`commit`).
final class RunDriver {
    let engine: Engine
    let workflow: Workflow
    let scheduler: RunScheduler
    private(set) var state: RunState
    /// Script and built-in activities running in this drive, by name.
    private var running: Set<String> = []
    /// Child runs driven in this drive: activity name → child run id.
    private var children: [String: RunID] = [:]
    /// Events folded into `state` but not written yet (`stage`): a step's completion and the start
    /// of the steps it lets run go to the store as one transition, just before a body runs or the
    /// driver waits (`flush`), instead of one write each.
    private var staged: [RunEvent] = []
    /// Whether the run had ended before the staged events.
    private var stagedFromTerminal = false
    /// Whether a write refused for a storage fault is waited out (`commitFailingFast` turns it off).
    var retriesStorageFaults = true

    init(engine: Engine, workflow: Workflow, state: RunState) {
        self.engine = engine
        self.workflow = workflow
        self.scheduler = RunScheduler(workflow: workflow)
        self.state = state
    }

    // MARK: - Entry points

    /// Runs until the run ends or waits.
    func drive() async throws -> RunStatus {
        try await processDue()
        if state.status == .queued, state.ending == nil {
            // Still in the run queue (docs/resilience.md): it starts when admission gives it a slot.
            if try await engine.admission().isWaiting(state.id) { return state.status }
            let deadline = workflow.timeout.map { engine.clock.now + $0 }
            try await commit([event(.runStarted(deadline: deadline))])
        }
        if state.ending == nil { try await forward() }
        if state.ending != nil, !Task.isCancelled { try await windDown() }
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
        var next = state
        next.apply(resumed)
        try await engine.store.repin(
            state.id, to: repin, events: [resumed], newState: next, committed: publication(of: [resumed]).publisher(on: engine.bus))
        state = next
        return try await drive()
    }

    func completeTask(_ task: TaskRecord, data: Value, user: String) async throws {
        try await commitFailingFast(
            [event(.taskCompleted(id: task.id, data: data, user: user), task.activity, attempt: task.attempt)]
                + completionEvents(task.activity, output: data, attempts: task.attempt, outcome: nil, rescued: nil))
    }

    // MARK: - The forward phase

    /// Schedules ready activities and consumes their reports until nothing runs any more.
    private func forward() async throws {
        if state.status == .waiting, scheduler.decide(state) != .wait {
            try await commit([event(.runResumed)])
            try await engine.admission().resume(runID: state.id, workflow: workflow.id)
        }
        guard state.status == .running else { return }
        let (messages, mailbox) = AsyncStream<DriverMessage>.makeStream()
        engine.leases.setMailbox(state.id, mailbox)
        defer { engine.leases.setMailbox(state.id, nil) }
        var failure: (any Error)?
        // Child runs live in the outer group, which is never cancelled: a child is stopped through
        // its own driver so that it can compensate. Activities and the deadline live in the inner one.
        await withTaskGroup(of: Void.self) { childGroup in
            await withTaskGroup(of: Void.self) { group in
                if let deadline = state.deadline {
                    group.addTask { [clock = engine.clock] in
                        do {
                            try await clock.sleep(until: deadline)
                            mailbox.yield(.deadline)
                        } catch {}
                    }
                }
                do {
                    try await resumeInFlight(&group, &childGroup, mailbox)
                    try await pump(&group, &childGroup, mailbox)
                    var cancelling = false
                    var iterator = messages.makeAsyncIterator()
                    while true {
                        // The run began to end (a report, or an inline body in `pump`): stop what runs.
                        if state.ending != nil, !cancelling {
                            cancelling = true
                            group.cancelAll()
                            let childEnding: RunEnding = state.ending == .terminated ? .terminated : .cancelled
                            for child in children.values { engine.leases.send(child, .stop(childEnding)) }
                        }
                        guard !running.isEmpty || !children.isEmpty else { break }
                        // Nothing waits on a transition that is not written.
                        try await flush()
                        guard let message = await iterator.next() else { break }
                        try await handle(message)
                        if state.ending == nil { try await pump(&group, &childGroup, mailbox) }
                    }
                } catch {
                    failure = error
                }
                await Self.closePhase(&group, messages, mailbox)
            }
        }
        if let failure { throw failure }
        try await flush()
        guard !Task.isCancelled, state.ending == nil else { return }
        switch scheduler.decide(state) {
        case .complete: try await completeRun()
        case .wait:
            if state.status != .waiting {
                try await commit([event(.runWaiting)])
                // A run waiting on a human, a timer or a child does not hold a max_workflows slot.
                try await engine.releaseSlot(of: state.id)
            }
        case .start, .awaitInFlight, .windDown: break
        }
    }

    /// Ends a phase: what still runs is cancelled, the mailbox closes, and senders still waiting
    /// for an acknowledgement are let go (the group then waits for its tasks).
    static func closePhase(
        _ group: inout TaskGroup<Void>, _ messages: AsyncStream<DriverMessage>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async {
        group.cancelAll()
        mailbox.finish()
        for await message in messages { message.acknowledge() }
    }

    /// Starts (or skips) every activity the scheduler says is ready, until none is. The starts of
    /// script and built-in bodies are written together, then those bodies run: in child tasks, or
    /// in this task for built-ins that run inline (`runsInline`), after which the activities those
    /// unlocked start in turn.
    private func pump(
        _ group: inout TaskGroup<Void>, _ childGroup: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws {
        var ranInline = false
        repeat {
            var starting: [(Activity, Value, Bool)] = []
            while state.ending == nil, case .start(let names) = scheduler.decide(state) {
                for name in names where state.ending == nil {
                    guard let activity = workflow.activity(named: name) else { continue }
                    if let (input, started) = try await begin(activity, &childGroup, mailbox) { starting.append((activity, input, started)) }
                }
            }
            guard !starting.isEmpty else { return }
            try await flush()
            var inline: [(Activity, Value)] = []
            for (activity, input, started) in starting {
                if started, runsInline(activity) {
                    inline.append((activity, input))
                } else {
                    launch(activity, input: input, resume: nil, firstAttemptJournaled: started, &group, mailbox)
                }
            }
            ranInline = !inline.isEmpty
            for (activity, input) in inline {
                // Cancelled (the engine stops): nothing is settled, as for a child task's late report;
                // the activity stays running in the journal and runs again after a restart.
                guard !Task.isCancelled else { return }
                await runInline(activity, input: input)
            }
        } while ranInline && state.ending == nil
    }

    /// Whether a built-in body runs in the driver's task instead of a child task reporting through
    /// the mailbox (two task hand-offs, most of a trivial step's wall time). Only `noop`, `set`,
    /// `log` and `emit`, which never wait and never fail with `WorkerCrashed`, and only without any
    /// policy: no retry (the workflow's included), fallback, timeout, breaker, bulkhead or
    /// engine-wide activity gate. For such an activity the executor makes one attempt, whose start
    /// the driver journaled, and reports nothing but a failure's warning (`runInline`).
    private func runsInline(_ activity: Activity) -> Bool {
        guard case .builtin(let name) = activity.body, ["noop", "set", "log", "emit"].contains(name) else { return false }
        return activity.retry == nil && workflow.errorHandling.retry == nil && workflow.fallback(for: activity) == nil
            && activity.timeout == nil && activity.totalTimeout == nil && activity.circuitBreaker == nil
            && activity.bulkhead == nil && engine.activityGate == nil
    }

    /// Runs attempt 1 of an inline built-in (`runsInline`) and stages how it ended. An activity
    /// whose run began to end before its turn is cancelled without running, as the cancellation of
    /// the phase would have cancelled its child task.
    private func runInline(_ activity: Activity, input: Value) async {
        let name = activity.name
        guard state.ending == nil else {
            settle(name, .failed(ActivityFailure(.cancelled, "cancelled"), attempts: 1), nil)
            return
        }
        // A built-in sees only its input: the run's context and `steps` are not copied for it.
        let context = BodyContext(
            runID: state.id, workflow: workflow.id, version: workflow.version, activity: name,
            idempotencyKey: "\(state.id):\(name)", context: [:], steps: .null, event: nil, timeout: nil, limits: activity.limits)
        do throws(ActivityFailure) {
            let outcome = try await engine.runBody(activity.body, input: input, attempt: 1, context: context)
            try engine.validator.check(outcome.output, against: activity.outputSchema, what: "the output of '\(name)'")
            settle(name, .completed(output: outcome.output, attempts: 1), outcome)
        } catch {
            logger(name, attempt: 1).warning("attempt failed: \(error)")
            settle(name, .failed(error, attempts: 1), nil)
        }
    }

    /// Evaluates an activity's conditions and input, then starts it or skips it. A script or
    /// built-in body is staged as scheduled and its input returned: the caller runs it once that is
    /// written. Its attempt 1 is staged as started with it (`started`) when nothing can hold the
    /// attempt back (no bulkhead, no engine-wide activity gate), so `started_at` stays the instant
    /// the body really starts; otherwise the executor reports the start when the permit is granted.
    private func begin(
        _ activity: Activity, _ childGroup: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws -> (input: Value, started: Bool)? {
        let name = activity.name
        // The scope is built only for an activity that evaluates something: it copies every step's output.
        let evaluates = activity.when != nil || activity.with != nil || activity.dependencies.contains { $0.when != nil }
        let scope = evaluates ? expressionScope() : .null
        do {
            var taken = Set<String>()
            for dependency in scheduler.conditionsToEvaluate(for: activity, in: state) {
                if let when = dependency.when, try await evaluate(when, scope: scope).isTruthy {
                    taken.insert(dependency.activity)
                }
            }
            guard scheduler.runsAfterEdges(activity, taken: taken) else {
                try await commit([event(.activitySkipped(.noIncomingEdge), name)])
                return nil
            }
            if let when = activity.when, !(try await evaluate(when, scope: scope).isTruthy) {
                try await commit([event(.activitySkipped(.whenFalse), name)])
                return nil
            }
            let input = try await render(activity.with, scope: scope) ?? state.input
            try engine.validator.check(input, against: activity.inputSchema, what: "the input of '\(name)'")
            let scheduled = event(.activityScheduled(input: input), name)
            switch activity.body {
            case .manual(let task):
                try await commit([scheduled] + taskEvents(activity, task, attempt: 1))
            case .builtin("sleep"):
                let until = engine.clock.now + (try Builtins.sleepDuration(input))
                try await commit([scheduled, event(.activityWaiting(.timer(until: until)), name, attempt: 1)])
            case .workflow(let id):
                try await commit([scheduled, event(.activityStarted, name, attempt: 1)])
                launchChild(name, workflow: id, input: input, &childGroup, mailbox)
            case .lua, .builtin:
                let startsAtOnce = activity.bulkhead == nil && engine.activityGate == nil
                stage(startsAtOnce ? [scheduled, event(.activityStarted, name, attempt: 1)] : [scheduled])
                return (input, startsAtOnce)
            }
        } catch let failure as ActivityFailure {
            try await commit(failureEvents(name, failure, attempts: state.activities[name]?.attempts ?? 0))
        }
        return nil
    }

    /// Activities a previous drive left in flight (its process died): they run again with their
    /// attempt count, so the next attempt is n+1; one that was running counts an interruption,
    /// which the executor does not charge against `max_attempts` (docs/resilience.md, docs/durability.md).
    private func resumeInFlight(
        _ group: inout TaskGroup<Void>, _ childGroup: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws {
        for record in state.activities.values where record.status.isInFlight {
            guard let activity = workflow.activity(named: record.name) else { continue }
            let interrupted = record.status == .running
            if interrupted { try await commit([event(.activityInterrupted, record.name, attempt: record.attempts)]) }
            let input = record.input ?? state.input
            if case .workflow(let id) = activity.body {
                launchChild(record.name, workflow: id, input: input, &childGroup, mailbox)
                continue
            }
            // `record.attempts` is the last attempt's number, crashed ones included; those do not
            // use up `max_attempts`, and the next attempt is numbered after all of them.
            let interruptions = record.interruptions + (interrupted ? 1 : 0)
            let resume = AttemptState(
                attemptsUsed: max(0, record.attempts - interruptions), interruptions: interruptions,
                nextAttemptAt: record.nextAttemptAt, firstStartedAt: record.startedAt)
            launch(activity, input: input, resume: resume, firstAttemptJournaled: false, &group, mailbox)
        }
    }

    private func launch(
        _ activity: Activity, input: Value, resume: AttemptState?, firstAttemptJournaled: Bool, _ group: inout TaskGroup<Void>,
        _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) {
        running.insert(activity.name)
        var effective = activity
        effective.retry = activity.retry ?? workflow.errorHandling.retry
        effective.fallback = workflow.fallback(for: activity)
        let execution = ActivityExecution(
            engine: engine, workflow: workflow.id, activity: effective, input: input,
            context: bodyContext(
                for: activity.name, stepsUse: activity.body.stepsUse.union(effective.fallback?.stepsUse ?? .none)
                    .union(activity.bulkhead?.fallback?.stepsUse ?? .none),
                timeout: activity.timeout, limits: activity.limits),
            // Only a fallback evaluates in this scope (its `with` or `output`).
            scope: effective.fallback != nil || activity.bulkhead?.fallback != nil ? expressionScope() : .null, mailbox: mailbox,
            firstAttemptJournaled: firstAttemptJournaled)
        group.addTask { await execution.run(resumeFrom: resume) }
    }

    private func launchChild(
        _ name: String, workflow childWorkflow: String, input: Value, _ childGroup: inout TaskGroup<Void>,
        _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) {
        let childID = EngineRunID.child(of: state.id, activity: name)
        children[name] = childID
        let parent = ParentLink(runID: state.id, activity: name)
        childGroup.addTask { [engine] in
            do {
                guard let pinned = await engine.catalog?.workflow(id: childWorkflow) else {
                    throw ActivityFailure(.activityError, "no workflow '\(childWorkflow)' to start as a child run", retryable: false)
                }
                // Never adopts a run it did not start: one under this id with another parent,
                // workflow or input fails the activity (`runIDConflict`).
                _ = try await engine.create(pinned, input: input, runID: childID, event: nil, parent: parent, origin: .child)
                if let child = try await engine.driveChild(childID) {
                    mailbox.yield(.childSettled(activity: name, child: child))
                    return
                }
                throw EngineError.unknownRun(childID)
            } catch {
                let failure =
                    error as? ActivityFailure
                    ?? ActivityFailure(.activityError, "child run: \(error)", retryable: error is EngineError ? false : nil)
                mailbox.yield(.finished(activity: name, result: .failed(failure, attempts: 1), outcome: nil))
            }
        }
    }

    /// Folds one report of a running activity into the journal.
    private func handle(_ message: DriverMessage) async throws {
        switch message {
        case .attemptStarted(let name, let attempt, let at, let ack):
            defer { ack.resume() }
            try await commit([event(.activityStarted, name, attempt: attempt, at: at)])
        case .attemptFailed(let name, let attempt, let failure, let nextAttemptAt, let ack):
            defer { ack.resume() }
            logger(name, attempt: attempt).warning("attempt failed: \(failure)")
            if let nextAttemptAt {
                try await commit([event(.activityRetrying(error: failure, nextAttemptAt: nextAttemptAt), name, attempt: attempt)])
            }
        case .fallbackStarted(let name, let failure, let notify, let ack):
            defer { ack.resume() }
            try await commit([event(.activityFallback(error: failure, notify: notify), name)])
        case .scriptLogs(let name, let attempt, let entries):
            stage(logEvents(name, attempt: attempt, entries))  // written with what the driver commits next
        case .finished(let name, let result, let outcome):
            running.remove(name)
            children[name] = nil
            guard !Task.isCancelled else { return }
            settle(name, result, outcome)
        case .circuitTransition(let name, let transition):
            try await commit([circuitEvent(name, transition)])
        case .childSettled(let name, let child):
            children[name] = nil
            guard !Task.isCancelled else { return }
            try await settleChild(name, child)
        case .deadline:
            if state.ending == nil {
                try await commit(endingEvents(.timedOut, failure: ActivityFailure(.timeout, "the workflow timeout passed"), activity: nil))
            }
        case .stop(let ending):
            if state.ending == nil || (ending == .terminated && state.ending != .terminated) {
                try await commit(endingEvents(ending, failure: Self.stopFailure(ending), activity: nil))
            }
        }
    }

    /// Stages how an activity ended: it is written with whatever the driver does next.
    private func settle(_ name: String, _ result: ActivityExecutionResult, _ outcome: ScriptOutcome?) {
        switch result {
        case .completed(let output, let attempts):
            stage(completionEvents(name, output: output, attempts: attempts, outcome: outcome, rescued: nil))
        case .completedViaFallback(let output, let attempts, let failure):
            stage(completionEvents(name, output: output, attempts: attempts, outcome: outcome, rescued: failure))
        case .skippedByFallback(let attempts, let failure):
            stage([event(.activitySkipped(.fallback(error: failure, attempts: attempts)), name)])
        case .failed(let failure, let attempts):
            // Cancelled before its first report, an activity whose attempt 1 was journaled with
            // its start still counts that attempt.
            stage(failureEvents(name, failure, attempts: max(attempts, state.activities[name]?.attempts ?? 0)))
        }
    }

    // MARK: - Completing

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

    // MARK: - Journal

    /// Appends one transition: the events staged so far and these, and the state they fold to, in
    /// one store write; then publishes them, logs them and counts them.
    func commit(_ events: [RunEvent]) async throws {
        stage(events)
        try await flush()
    }

    /// Folds events into the state without writing them yet; `flush` (or the next `commit`)
    /// writes them, before anything depends on them being durable. The state is folded in place:
    /// folding into a copy copied every activity record on every transition.
    func stage(_ events: [RunEvent]) {
        if staged.isEmpty { stagedFromTerminal = state.status.isTerminal }
        for event in events { state.apply(event) }
        staged += events
    }

    /// Writes the staged events as one transition; a storage fault is waited out (`StorageRetryPolicy`).
    /// A write the store refuses otherwise (or past the retries) ends the drive; the
    /// driver then holds the store's state again (as it was before these events) for whatever its
    /// callers read before it is dropped.
    func flush() async throws {
        guard !staged.isEmpty else { return }
        let events = staged
        staged = []
        engine.failpoints.reach(.beforeCommit, of: events)
        // Published by the store's writer as the transaction commits, so subscribers get events
        // in position order; events a body emitted follow the completion they belong to.
        let publisher = publication(of: events).publisher(on: engine.bus)
        do {
            try await engine.append(
                state.id, events: events, newState: state, retryingStorageFaults: retriesStorageFaults, committed: publisher
            ) { logger(nil) }
        } catch {
            if let stored = try? await engine.store.state(of: state.id) { state = stored }
            throw error
        }
        engine.failpoints.reach(.afterCommit, of: events)
        logAnnouncements(events)
        for event in events { record(event) }
        if state.status.isTerminal, !stagedFromTerminal, let finished = state.finishedAt {
            engine.metrics.runEnded(
                workflow: workflow.id, status: state.status, after: finished - (state.startedAt ?? state.queuedAt), at: finished)
        }
    }

    private func record(_ event: RunEvent) {
        // The logger with the run's metadata is built only when the line is logged: setting
        // metadata on a stream handler re-renders it, which cost more than the rest of a step.
        switch event.payload {
        case .activityLog: break  // logged by the sandbox's sink, at its own level, as the script ran
        case .activityFailed(let failure, _), .runFailing(_, let failure, _), .compensationFailed(let failure, _), .taskExpired(_, let failure):
            if engine.logger.logLevel <= .warning {
                logger(event.activity, attempt: event.attempt).warning("\(event.type)", metadata: ["error": .string(failure.description)])
            }
        default:
            if engine.logger.logLevel <= .info { logger(event.activity, attempt: event.attempt).info("\(event.type)") }
        }
        switch event.payload {
        case .activityStarted:
            engine.metrics.activityStarted(workflow: workflow.id, activity: event.activity ?? "")
        case .activityCompleted, .activityFailed:
            if let name = event.activity, let started = state.activities[name]?.startedAt {
                engine.metrics.activityEnded(workflow: workflow.id, activity: name, after: event.at - started, at: event.at)
            }
        default: break
        }
    }

    func event(_ payload: RunEvent.Payload, _ activity: String? = nil, attempt: Int? = nil, at: Timestamp? = nil) -> RunEvent {
        RunEvent(payload, runID: state.id, workflow: workflow.id, activity: activity, attempt: attempt, at: at ?? engine.clock.now)
    }

    func logger(_ activity: String?, attempt: Int? = nil) -> Logger {
        var logger = engine.logger
        logger[metadataKey: "run.id"] = .string(state.id)
        logger[metadataKey: "workflow"] = .string(workflow.id)
        if let activity { logger[metadataKey: "activity"] = .string(activity) }
        if let attempt { logger[metadataKey: "attempt"] = .stringConvertible(attempt) }
        return logger
    }

    // MARK: - Expressions

    /// The names expressions see (docs/expressions.md).
    func expressionScope(_ extra: OrderedDictionary<String, Value> = [:]) -> Value {
        var scope: OrderedDictionary<String, Value> = [
            "input": state.input, "workflow": .object(state.context), "steps": state.steps,
            "event": state.triggerEvent ?? .null, "run": runInfo,
        ]
        scope.merge(extra) { _, new in new }
        return .object(scope)
    }

    var runInfo: Value {
        [
            "id": .string(state.id), "workflow": .string(workflow.id), "version": workflow.version.map(Value.string) ?? .null,
            "started_at": state.startedAt.map { .string($0.iso8601) } ?? .null,
        ]
    }

    func evaluate(_ expression: Expression, scope: Value) async throws(ActivityFailure) -> Value {
        try await engine.runner.evaluate(.template(Template(parts: [.expression(expression)])), scope: scope)
    }

    func render(_ template: ValueTemplate?, scope: Value) async throws(ActivityFailure) -> Value? {
        switch template {
        case nil: nil
        case .value(let value): value
        case let template?: try await engine.runner.evaluate(template, scope: scope)
        }
    }

    /// What a body of this run sees besides its input: of `steps`, only what `stepsUse` (the
    /// bodies that run in this context) can read.
    func bodyContext(
        for activity: String, stepsUse: StepsUse, timeout: Duration?, limits: LimitOverrides, key suffix: String = ""
    ) -> BodyContext {
        BodyContext(
            runID: state.id, workflow: workflow.id, version: workflow.version, activity: activity,
            idempotencyKey: "\(state.id):\(activity)\(suffix)", context: state.context, steps: state.steps(stepsUse),
            event: state.triggerEvent, timeout: timeout, limits: limits)
    }
}

import MoonflowModel

/// How the forward phase starts activities: conditions and input first, then a body in a child
/// task (through the `ActivityExecutor`), a built-in run in place, a manual task, a durable timer,
/// or a child run.
extension RunDriver {
    /// Starts (or skips) every activity the scheduler says is ready, until none is. The starts of
    /// script and built-in bodies are written together, then those bodies run: in child tasks, or
    /// in this task (`runsInPlace`), after which the activities those unlocked start in turn.
    func pump(
        _ group: inout TaskGroup<Void>, _ childGroup: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws {
        var ranInPlace = false
        repeat {
            var starting: [(Activity, Value, Bool)] = []
            ready: while state.ending == nil, case .start(let names) = scheduler.decide(state) {
                for name in names where state.ending == nil {
                    if state.status == .paused { break ready }
                    if let reason = pauseReason(before: name) {
                        try await pause(reason, before: name)
                        break ready
                    }
                    guard let activity = workflow.activity(named: name) else { continue }
                    if let (input, started) = try await begin(activity, &childGroup, mailbox) { starting.append((activity, input, started)) }
                }
            }
            guard !starting.isEmpty else { return }
            var inPlace: [(Activity, Value)] = []
            var launching: [(Activity, Value, Bool)] = []
            for (activity, input, started) in starting {
                let policed = withWorkflowPolicies(activity)
                if started, runsInPlace(policed, alone: starting.count == 1) {
                    inPlace.append((policed, input))
                } else {
                    launching.append((policed, input, started))
                }
            }
            // A body runs once its start is written, except a built-in run in place, which acts only
            // through its completion (`Builtin.returnsAtOnce`): its start is written with that, and a
            // chain of them is one transition.
            let startsMustBeWritten = !launching.isEmpty || inPlace.contains { activity, _ in
                if case .builtin = activity.body { false } else { true }
            }
            if startsMustBeWritten { try await flush() }
            for (activity, input, started) in launching {
                launch(activity, input: input, resume: nil, firstAttemptJournaled: started, &group, mailbox)
            }
            ranInPlace = !inPlace.isEmpty
            for (activity, input) in inPlace {
                // Cancelled (the engine stops): nothing is settled, as for a child task's late report;
                // the activity stays running in the journal and runs again after a restart.
                guard !Task.isCancelled else { return }
                await runInPlace(activity, input: input, mailbox)
            }
        } while ranInPlace && state.ending == nil
    }

    /// Why the run must pause before starting `name` (it is not paused yet): a breakpoint, or the
    /// end of a step; `nil` when it may start. Decided without a suspension point, as it is asked
    /// before every start.
    private func pauseReason(before name: String) -> PauseReason? {
        if state.breakBefore.contains(name), state.released != name { return .breakpoint(activity: name) }
        if state.stepping, state.stepTaken { return .step(activity: name) }
        return nil
    }

    /// Pauses the run before `name` (`run.paused`, written before anything else starts).
    private func pause(_ reason: PauseReason, before name: String) async throws {
        try await commit([event(.runPaused(reason), name)])
        logger(name).notice("run paused (\(reason.name)) before '\(name)'")
    }

    /// `activity` with the workflow's `error_handling.activity_error` retry and fallback where it
    /// declares none: the policies the executor applies to it.
    private func withWorkflowPolicies(_ activity: Activity) -> Activity {
        var policed = activity
        policed.retry = activity.retry ?? workflow.errorHandling.retry
        policed.fallback = workflow.fallback(for: activity)
        return policed
    }

    /// Whether attempt 1 of an activity whose start the driver journaled runs in the driver's task
    /// instead of a child task reporting through the mailbox (two task hand-offs, most of a short
    /// step's wall time): one for which the executor would make one attempt and report nothing but
    /// a failure's warning (no policy). A built-in that returns at once; a script when nothing else
    /// of the run runs or starts with it (it would hold those back) and the phase's `scriptStop`
    /// can interrupt it, as cancelling its child task would.
    private func runsInPlace(_ activity: Activity, alone: Bool) -> Bool {
        guard !environment.executor.needsPolicies(activity) else { return false }
        switch activity.body {
        case .builtin(let builtin): return builtin.returnsAtOnce
        case .lua:
            // A script in a sandbox helper goes through the executor, which re-runs an attempt its
            // helper's crash interrupted (`SandboxCrashed`, docs/sandbox.md).
            return alone && running.isEmpty && children.isEmpty && scriptStop != nil && environment.runner.honoursStop
                && activity.limits.applied(to: environment.scriptLimits).isolation == .inProcess
        case .manual, .workflow: return false
        }
    }

    /// Runs attempt 1 of an activity in the driver's task (`runsInPlace`) and stages how it ended.
    /// An activity whose run began to end before its turn is cancelled without running, as the
    /// cancellation of the phase would have cancelled its child task; a script the phase's stop
    /// interrupted is reported through the mailbox, after the message that stopped it.
    private func runInPlace(_ activity: Activity, input: Value, _ mailbox: AsyncStream<DriverMessage>.Continuation) async {
        let name = activity.name
        guard state.ending == nil else {
            settle(name, .failed(ActivityFailure(.cancelled, "cancelled"), attempts: 1), nil)
            return
        }
        let context =
            if case .lua(let chunk) = activity.body {
                bodyContext(for: name, stepsUse: chunk.stepsUse, timeout: nil, limits: activity.limits)
            } else {
                // A built-in sees only its input: the run's context and `steps` are not copied for it.
                BodyContext(
                    role: .activity, runID: state.id, workflow: workflow.id, version: workflow.version, activity: name, context: [:],
                    steps: .null, event: nil, timeout: nil, limits: activity.limits)
            }
        let logs = ScriptLogBuffer()
        do throws(ActivityFailure) {
            let outcome = try await environment.runBody(
                activity.body, input: input, attempt: 1, context: context, logs: logs, stop: scriptStop)
            try environment.validator.check(outcome.output, against: activity.outputSchema, what: "the output of '\(name)'")
            guard !Task.isCancelled else { return }
            stage(logEvents(name, attempt: 1, logs.drain()))
            settle(name, .completed(output: outcome.output, attempts: 1), outcome)
        } catch {
            guard !Task.isCancelled else { return }
            stage(logEvents(name, attempt: 1, logs.drain()))
            if error.type == .cancelled, scriptStop?.isRequested == true {
                running.insert(name)
                mailbox.yield(.finished(activity: name, result: .failed(error, attempts: 1), outcome: nil))
                return
            }
            logger(name, attempt: 1).warning("attempt failed: \(error)")
            settle(name, .failed(error, attempts: 1), nil)
        }
    }

    /// Evaluates an activity's conditions and input, then starts it or skips it. A script or
    /// built-in body is staged as scheduled and its input returned: the caller runs it once that is
    /// written. Its attempt 1 is staged as started with it (`started`) when the executor says
    /// nothing can hold the attempt back (no bulkhead, no engine-wide activity gate), so
    /// `started_at` stays the instant the body really starts; otherwise the executor reports the
    /// start when the permit is granted.
    private func begin(
        _ activity: Activity, _ childGroup: inout TaskGroup<Void>, _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) async throws -> (input: Value, started: Bool)? {
        let name = activity.name
        // The scope is built only for an activity that evaluates something: it copies every step's output.
        let evaluates =
            activity.when != nil || (activity.with != nil && activity.with?.constant == nil) || activity.dependencies.contains { $0.when != nil }
        let scope = evaluates ? expressionScope() : .null
        do {
            if activity.dependencies.contains(where: { $0.when != nil }) {
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
            }
            if let when = activity.when, !(try await evaluate(when, scope: scope).isTruthy) {
                try await commit([event(.activitySkipped(.whenFalse), name)])
                return nil
            }
            let input = activity.with == nil ? state.input : try await render(activity.with, scope: scope) ?? state.input
            try environment.validator.check(input, against: activity.inputSchema, what: "the input of '\(name)'")
            let scheduled = event(.activityScheduled(input: input), name)
            switch activity.body {
            case .manual(let task):
                try await commit([scheduled] + taskEvents(activity, task, attempt: 1))
            case .builtin(.sleep):
                let until = environment.clock.now + (try Builtins.sleepDuration(input))
                try await commit([scheduled, event(.activityWaiting(.timer(until: until)), name, attempt: 1)])
            case .workflow(let id):
                try await commit([scheduled, event(.activityStarted, name, attempt: 1)])
                launchChild(name, workflow: id, input: input, &childGroup, mailbox)
            case .lua, .builtin:
                let startsAtOnce = environment.executor.startsAtOnce(activity)
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
    func resumeInFlight(
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
            launch(withWorkflowPolicies(activity), input: input, resume: resume, firstAttemptJournaled: false, &group, mailbox)
        }
    }

    /// Runs an activity, its policies applied (`withWorkflowPolicies`), in a child task of the phase.
    private func launch(
        _ activity: Activity, input: Value, resume: AttemptState?, firstAttemptJournaled: Bool, _ group: inout TaskGroup<Void>,
        _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) {
        running.insert(activity.name)
        let execution = ActivityExecution(
            environment: environment, workflow: workflow.id, activity: activity, input: input,
            context: bodyContext(
                for: activity.name,
                stepsUse: activity.body.stepsUse.union(activity.fallback?.stepsUse ?? .none)
                    .union(activity.bulkhead?.fallback?.stepsUse ?? .none),
                timeout: activity.timeout, limits: activity.limits),
            // Only a fallback evaluates in this scope (its `with` or `output`).
            scope: activity.fallback != nil || activity.bulkhead?.fallback != nil ? expressionScope() : .null, mailbox: mailbox,
            firstAttemptJournaled: firstAttemptJournaled)
        group.addTask { await execution.run(resumeFrom: resume) }
    }

    /// Drives the child run of a `type: workflow` activity in the phase's group of child runs.
    private func launchChild(
        _ name: String, workflow childWorkflow: String, input: Value, _ childGroup: inout TaskGroup<Void>,
        _ mailbox: AsyncStream<DriverMessage>.Continuation
    ) {
        let childID = EngineRunID.child(of: state.id, activity: name)
        children[name] = childID
        let parent = ParentLink(runID: state.id, activity: name)
        childGroup.addTask { [host] in
            do {
                let child = try await host.driveChild(childID, workflow: childWorkflow, input: input, parent: parent)
                mailbox.yield(.childSettled(activity: name, child: child))
            } catch {
                let failure =
                    error as? ActivityFailure
                    ?? ActivityFailure(.activityError, "child run: \(error)", retryable: error is EngineError ? false : nil)
                mailbox.yield(.finished(activity: name, result: .failed(failure, attempts: 1), outcome: nil))
            }
        }
    }
}

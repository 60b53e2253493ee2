import MoonflowModel

/// Manual tasks, durable timers and child runs: what a waiting run waits on (docs/workflow-format.md).
extension RunDriver {
    /// Fires the run's due timers (reminders, task expiry, `sleep`, the run deadline) and settles
    /// activities whose child run ended while this run was not being driven.
    func processDue() async throws {
        let now = environment.clock.now
        for timer in state.timers where timer.at <= now {
            switch timer.kind {
            case .taskReminder(let id):
                guard let task = state.tasks[id], task.status == .open else { continue }
                try await commit([event(.taskReminded(id: id, reminder: timer.at), task.activity, attempt: task.attempt)])
            case .taskDue(let id):
                guard let task = state.tasks[id], task.status == .open else { continue }
                try await expire(task)
            case .sleep(let name):
                guard let record = state.activities[name], record.status == .waiting else { continue }
                try await commit(completionEvents(name, output: .null, attempts: record.attempts, outcome: nil, rescued: nil))
            case .runDeadline:
                guard state.ending == nil else { continue }
                try await commit(endingEvents(.timedOut, failure: ActivityFailure(.timeout, "the workflow timeout passed"), activity: nil))
            case .queueTimeout:
                // Not started by its deadline (even if a slot freed just now, unseen while no timer
                // fired): it leaves the queue and fails; a slot it was given goes to the next run.
                guard state.ending == nil else { continue }
                let waited = timer.at - state.queuedAt
                try await commit(
                    endingEvents(.failed, failure: ActivityFailure(.queueTimeout, "the run waited \(waited) in the run queue without a free slot (concurrency.queuing.timeout)"), activity: nil))
            }
        }
        for record in state.activities.values where record.status == .waiting {
            guard case .childRun(let id) = record.waitingOn, let child = try await environment.store.state(of: id),
                child.status.isTerminal
            else { continue }
            try await settleChild(record.name, child)
        }
    }

    /// `activity.waiting`, `task.created` and `task.assigned` for attempt `attempt` of a manual activity.
    func taskEvents(_ activity: Activity, _ task: ManualTask, attempt: Int) -> [RunEvent] {
        let now = environment.clock.now
        let id = TaskID.make(run: state.id, activity: activity.name, attempt: attempt)
        let due = task.due.map { now + $0 }
        let reminders = task.remind.map { now + $0 }.filter { reminder in due.map { reminder < $0 } ?? true }
        let created = CreatedTask(
            id: id, tokenDigest: TaskToken.digest(of: TaskToken.generate()), users: task.users, groups: task.groups,
            form: task.form?.schema, due: due, reminders: reminders)
        return [
            event(.activityWaiting(.task(id: id)), activity.name, attempt: attempt),
            event(.taskCreated(created), activity.name, attempt: attempt),
            event(.taskAssigned(id: id, users: task.users, groups: task.groups), activity.name, attempt: attempt),
        ]
    }

    /// A task past `due`: `ManualTaskTimeout`, then a new task if the retry policy allows another
    /// attempt, else the fallback (`on_timeout` first), else the run fails.
    private func expire(_ task: TaskRecord) async throws {
        let failure = ActivityFailure(.manualTaskTimeout, "task '\(task.id)' was not completed before it was due")
        let expired = event(.taskExpired(id: task.id, error: failure), task.activity, attempt: task.attempt)
        guard let activity = workflow.activity(named: task.activity), case .manual(let manual) = activity.body else {
            return try await commit([expired] + failureEvents(task.activity, failure, attempts: task.attempt))
        }
        if let retry = activity.retry ?? workflow.errorHandling.retry, task.attempt < retry.maxAttempts, retry.retries(failure) {
            return try await commit([expired] + taskEvents(activity, manual, attempt: task.attempt + 1))
        }
        try await commit([expired])
        try await fallBackOrFail(activity, failure, attempts: task.attempt)
    }

    /// Settles an activity whose child run stopped: its output, its waiting, or its failure.
    func settleChild(_ name: String, _ child: RunState) async throws {
        let attempts = state.activities[name]?.attempts ?? 1
        switch child.status {
        case .completed:
            try await commit(completionEvents(name, output: child.output ?? .null, attempts: attempts, outcome: nil, rescued: nil))
        case .queued, .running, .waiting, .paused, .compensating:
            try await commit([event(.activityWaiting(.childRun(id: child.id)), name, attempt: attempts)])
        case .failed, .compensated, .compensationFailed, .timedOut, .cancelled, .terminated:
            let failure = child.error ?? ActivityFailure(.activityError, "child run '\(child.id)' ended \(child.status)")
            guard let activity = workflow.activity(named: name), state.ending == nil else {
                return try await commit(failureEvents(name, failure, attempts: attempts))
            }
            try await fallBackOrFail(activity, failure, attempts: attempts)
        }
    }

    /// The fallback of an activity that waited (a manual task, a child run), which the resilience
    /// layer did not run: skip, a fixed output, or a body run once.
    private func fallBackOrFail(_ activity: Activity, _ failure: ActivityFailure, attempts: Int) async throws {
        let name = activity.name
        guard failure.type != .cancelled, let fallback = workflow.fallback(for: activity) else {
            return try await commit(failureEvents(name, failure, attempts: attempts))
        }
        try await commit([event(.activityFallback(error: failure, notify: fallback.notify), name)])
        let error = failure.errorValue(attempts: attempts)
        let scope = expressionScope(["error": error])
        do {
            switch fallback.action {
            case .skip:
                try await commit([event(.activitySkipped(.fallback(error: failure, attempts: attempts)), name)])
            case .output(let template):
                let output = try await render(template, scope: scope) ?? .null
                try await commit(completionEvents(name, output: output, attempts: attempts, outcome: nil, rescued: failure))
            case .body(let handler):
                let logs = ScriptLogBuffer()
                let outcome: ScriptOutcome
                do {
                    outcome = try await environment.runHandler(
                        handler, input: state.activities[name]?.input ?? state.input, error: error, scope: scope,
                        context: bodyContext(for: name, stepsUse: handler.body.stepsUse, timeout: handler.timeout, limits: activity.limits), attempt: 1, logs: logs)
                } catch {
                    stage(logEvents(name, attempt: 1, logs.drain()))  // written with the failure
                    throw error
                }
                stage(logEvents(name, attempt: 1, logs.drain()))
                try await commit(completionEvents(name, output: outcome.output, attempts: attempts, outcome: outcome, rescued: failure))
            }
        } catch let fallbackFailure as ActivityFailure {
            try await commit(failureEvents(name, fallbackFailure, attempts: attempts))
        }
    }
}

extension RetryPolicy {
    /// Whether this policy retries a failure of this type (docs/workflow-format.md, docs/resilience.md).
    func retries(_ failure: ActivityFailure) -> Bool {
        if failure.retryable == false || nonRetryable.contains(failure.type) { return false }
        if let retryOn { return retryOn.contains(failure.type) }
        return !ErrorType.notRetriedByDefault.contains(failure.type)
    }
}

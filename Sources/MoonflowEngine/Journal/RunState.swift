package import MoonflowModel
package import OrderedCollections

/// Why a run stopped scheduling new activities (recorded by `run.failing`).
package enum RunEnding: String, Sendable, Hashable {
    case failed
    case timedOut = "timed_out"
    case cancelled
    case terminated
}

/// What a waiting activity waits on.
package enum WaitReason: Sendable, Hashable {
    case task(id: String)
    case childRun(id: String)
    case timer(until: Timestamp)
}

/// One activity of a run, as the journal left it.
package struct ActivityRecord: Sendable, Hashable {
    package var name: String
    package var status: ActivityStatus = .pending
    /// Attempts started so far (the current one included).
    package var attempts: Int = 0
    package var input: Value?
    package var output: Value?
    /// The last failure: the final one for a failed activity, the rescued one for a fallback.
    package var error: ActivityFailure?
    /// The completion sequence number (docs/workflow-format.md), ordering compensation.
    package var seq: Int?
    package var viaFallback: Bool = false
    package var startedAt: Timestamp?
    package var finishedAt: Timestamp?
    /// While in `backoff`: when the next attempt starts (absolute, so it survives a restart).
    package var nextAttemptAt: Timestamp?
    package var waitingOn: WaitReason?
    /// Attempts cut short by a crash (docs/resilience.md): they run again and do not use up `max_attempts`.
    package var interruptions: Int = 0

    package init(name: String) { self.name = name }
}

/// A manual task (docs/workflow-format.md).
package struct TaskRecord: Sendable, Hashable {
    package var id: String
    /// The SHA-256 (hex) of the secret a completion link carries; the token itself is never kept
    /// (`TaskToken`).
    package var tokenDigest: String
    package var runID: String
    package var activity: String
    /// The activity attempt this task belongs to (a retried manual activity creates a new task).
    package var attempt: Int
    package var users: [String]
    package var groups: [String]
    /// The JSON Schema the submitted data must satisfy.
    package var form: Value?
    package var createdAt: Timestamp
    package var due: Timestamp?
    /// Reminders not sent yet.
    package var reminders: [Timestamp]
    package var status: TaskStatus = .open
    package var completedBy: String?
    package var data: Value?

    package init(
        id: String, tokenDigest: String, runID: String, activity: String, attempt: Int, users: [String], groups: [String],
        form: Value?, createdAt: Timestamp, due: Timestamp?, reminders: [Timestamp], status: TaskStatus = .open,
        completedBy: String? = nil, data: Value? = nil
    ) {
        self.id = id
        self.tokenDigest = tokenDigest
        self.runID = runID
        self.activity = activity
        self.attempt = attempt
        self.users = users
        self.groups = groups
        self.form = form
        self.createdAt = createdAt
        self.due = due
        self.reminders = reminders
        self.status = status
        self.completedBy = completedBy
        self.data = data
    }
}

/// One planned compensation (docs/workflow-format.md).
package struct CompensationRecord: Sendable, Hashable {
    /// The activity undone.
    package var activity: String
    /// The script or body that undoes it, for reports.
    package var handler: String
    package var status: CompensationStatus = .pending
    package var attempts: Int = 0
    package var startedAt: Timestamp?
    package var finishedAt: Timestamp?
    package var error: ActivityFailure?
    /// What it returned, once completed.
    package var output: Value?
}

/// A durable timer: derived from the state (never stored apart), so it can never disagree with it.
package struct RunTimer: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        case taskReminder(taskID: String)
        case taskDue(taskID: String)
        case sleep(activity: String)
        case runDeadline
        /// A queued run not admitted by then fails with `QueueTimeout` (docs/resilience.md).
        case queueTimeout
    }

    package var kind: Kind
    package var at: Timestamp
    package init(kind: Kind, at: Timestamp) {
        self.kind = kind
        self.at = at
    }
}

/// Where a queued run waits: its enqueue order and its `QueueTimeout` instant.
package struct QueuePlace: Sendable, Hashable {
    package var sequence: UInt64
    package var deadline: Timestamp?
    package init(sequence: UInt64, deadline: Timestamp?) {
        self.sequence = sequence
        self.deadline = deadline
    }
}

/// Who started a child run.
package struct ParentLink: Sendable, Hashable {
    package var runID: String
    package var activity: String
    package init(runID: String, activity: String) {
        self.runID = runID
        self.activity = activity
    }
}

/// A run's state: exactly the fold of its journal (`RunState.folding`). Stores keep it beside the
/// journal for queries; the engine changes it only by appending events.
package struct RunState: Sendable, Hashable {
    package var id: String
    package var workflow: String
    package var version: String?
    package var definitionHash: String
    package var status: RunStatus = .queued
    package var input: Value
    /// The trigger event, when a trigger started the run.
    package var triggerEvent: Value?
    package var context: OrderedDictionary<String, Value>
    package var output: Value?
    /// Why the run failed, with the activity that caused it.
    package var error: ActivityFailure?
    package var errorActivity: String?
    /// Set once the run stops scheduling; says which final state it heads for.
    package var ending: RunEnding?
    package var queuedAt: Timestamp
    /// The run's priority among queued runs (`strategy: priority`; default 0).
    package var priority: Int = 0
    /// Its place in the run queue when admission queued it (docs/resilience.md): what a restart rebuilds
    /// the queue from.
    package var queuePlace: QueuePlace?
    package var startedAt: Timestamp?
    package var finishedAt: Timestamp?
    /// The workflow `timeout` as an absolute time.
    package var deadline: Timestamp?
    package var parent: ParentLink?
    /// Who asked for the run (`run.queued`): what an idempotent repeat of its start must match.
    package var origin: RunOrigin = .request
    /// `StartHash` of the start request (`nil` for runs stored before it was recorded).
    package var startHash: String?
    /// In declaration order.
    package var activities: OrderedDictionary<String, ActivityRecord>
    /// The `seq` the next completion gets.
    package var nextSeq: Int = 1
    /// In plan order (the order they run).
    package var compensations: [CompensationRecord] = []
    /// `compensation.timeout` as an absolute time: compensations still running then are stopped
    /// (`Timeout`), the rest stay pending, and the run ends `compensation_failed`.
    package var compensationDeadline: Timestamp?
    package var tasks: OrderedDictionary<String, TaskRecord> = [:]
    /// Notifications queued and neither delivered nor dead-lettered yet, in order (docs/integrations.md).
    package var outbox: OrderedDictionary<String, QueuedNotification> = [:]
    /// How many journal entries have been folded: the version stores check appends against.
    package var journalLength: Int = 0
    /// Activities the run pauses before (`debug.break_before`).
    package var breakBefore: [String] = []
    /// The W3C `traceparent` its start came with (docs/operations.md, tracing).
    package var traceParent: TraceParent?
    /// Why the run is paused, while it is.
    package var pause: PauseReason?
    /// The activity a `continue` let past its breakpoint: it starts without pausing again.
    package var released: String?
    /// After `continue --step`: the run pauses before the activity after the next one.
    package var stepping = false
    /// Whether the step's one activity has been scheduled.
    package var stepTaken = false
    /// The run this one reruns.
    package var rerunOf: RerunSource?

    /// Whether `timers` is not empty, without building it (the in-memory store asks on every write).
    package var hasTimers: Bool {
        var any = false
        visitTimers { _ in
            any = true
            return false
        }
        return any
    }

    /// Durable timers of a run that is not finished.
    package var timers: [RunTimer] {
        var timers: [RunTimer] = []
        visitTimers { timer in
            timers.append(timer)
            return true
        }
        return timers.sorted { $0.at < $1.at }
    }

    /// Calls `visit` with each durable timer, unsorted, until it returns `false`. Records are read
    /// in place: walking the run's activities copies none of them.
    private func visitTimers(_ visit: (RunTimer) -> Bool) {
        guard !status.isTerminal else { return }
        for index in tasks.values.indices where tasks.values[index].status == .open {
            let task = tasks.values[index]
            for reminder in task.reminders where !visit(RunTimer(kind: .taskReminder(taskID: task.id), at: reminder)) { return }
            if let due = task.due, !visit(RunTimer(kind: .taskDue(taskID: task.id), at: due)) { return }
        }
        for index in activities.values.indices where activities.values[index].status == .waiting {
            if case .timer(let until) = activities.values[index].waitingOn,
                !visit(RunTimer(kind: .sleep(activity: activities.values[index].name), at: until))
            {
                return
            }
        }
        if let deadline, ending == nil, !visit(RunTimer(kind: .runDeadline, at: deadline)) { return }
        if status == .queued, ending == nil, let deadline = queuePlace?.deadline { _ = visit(RunTimer(kind: .queueTimeout, at: deadline)) }
    }

    /// `steps` as expressions and scripts see it: `{name: {output, status}}` for every activity that finished.
    package var steps: Value { steps(.all) }

    /// `steps` with only the entries `use` can read (`StepsUse`).
    package func steps(_ use: StepsUse) -> Value {
        // Built for every body: keys known unique, so no literal merging and no hashing twice.
        var names: [String] = []
        var values: [Value] = []
        let pick: [String]? =
            switch use {
            case .none: []
            case .names(let names): names
            case .all: nil
            }
        if pick?.isEmpty == true { return .object([:]) }
        for (name, record) in zip(activities.keys, activities.values) where record.status.isTerminal {
            if let pick, !pick.contains(name) { continue }
            names.append(name)
            values.append(
                .object(OrderedDictionary(uncheckedUniqueKeys: Self.stepKeys, values: [record.output ?? .null, .string(record.status.rawValue)])))
        }
        return .object(OrderedDictionary(uncheckedUniqueKeys: names, values: values))
    }

    private static let stepKeys = ["output", "status"]
}

// MARK: - The fold

extension RunState {
    /// The state a journal describes; `nil` for an empty journal or one not opened by `run.queued`.
    package static func folding(_ journal: [RunEvent]) -> RunState? {
        guard let first = journal.first, var state = RunState(queuedBy: first) else { return nil }
        for event in journal.dropFirst() { state.apply(event) }
        return state
    }

    /// The state of a new run, from its `run.queued` event.
    package init?(queuedBy event: RunEvent) {
        guard case .runQueued(let run) = event.payload else { return nil }
        id = event.runID
        workflow = event.workflow
        version = run.version
        definitionHash = run.definitionHash
        input = run.input
        triggerEvent = run.triggerEvent
        context = run.context
        queuedAt = event.at
        priority = run.priority
        queuePlace = run.queuePlace
        parent = run.parent
        origin = run.origin
        startHash = run.startHash
        breakBefore = run.breakBefore
        traceParent = run.traceParent
        rerunOf = run.rerunOf
        activities = [:]
        for name in run.activities { activities[name] = ActivityRecord(name: name) }
        journalLength = 1
    }

    /// Applies one journal entry.
    package mutating func apply(_ event: RunEvent) {
        journalLength += 1
        switch event.payload {
        case .runStarted(let deadline):
            status = .running
            startedAt = event.at
            self.deadline = deadline
        case .runWaiting: status = .waiting
        case .runResumed: status = .running
        case .runPaused(let reason):
            status = .paused
            pause = reason
        case .runUnpaused(let step):
            status = .running
            released = pause?.activity
            pause = nil
            stepping = step
            stepTaken = false
        case .runRedriven(let deadline, let repin, let names):
            reopen(deadline: deadline)
            if let repin { definitionHash = repin.definitionHash }
            for name in names where activities[name] == nil { activities[name] = ActivityRecord(name: name) }
        case .runFailing(let cause, let failure, let activity):
            // The first cause wins, except that a termination overrides a pending compensation.
            guard ending == nil || cause == .terminated else { return }
            ending = cause
            if error == nil {
                error = failure
                errorActivity = activity
            }
        case .runCompensating(let plan, let deadline):
            status = .compensating
            compensationDeadline = deadline
            guard compensations.isEmpty else { return }
            compensations = plan.map { CompensationRecord(activity: $0.activity, handler: $0.handler) }
        case .runCompleted(let output):
            self.output = output
            finish(.completed, at: event.at)
        case .runFailed: finish(.failed, at: event.at)
        case .runTimedOut: finish(.timedOut, at: event.at)
        case .runCancelled: finish(.cancelled, at: event.at)
        case .runTerminated: finish(.terminated, at: event.at)
        case .runCompensated: finish(.compensated, at: event.at)
        case .runCompensationFailed: finish(.compensationFailed, at: event.at)
        case .runCompensationResumed(let deadline, let repin):
            status = .compensating
            finishedAt = nil
            compensationDeadline = deadline
            if let repin { definitionHash = repin.definitionHash }
            for index in compensations.indices where compensations[index].status == .failed {
                compensations[index].status = .pending
                compensations[index].attempts = 0
                compensations[index].error = nil
                compensations[index].finishedAt = nil
            }

        case .activityScheduled(let input):
            if stepping { stepTaken = true }
            if released == event.activity { released = nil }
            updateActivity(event) { record in
                record.status = .scheduled
                record.input = input
            }
        case .activityStarted:
            updateActivity(event) { record in
                record.status = .running
                record.attempts = event.attempt ?? record.attempts + 1
                record.startedAt = record.startedAt ?? event.at
                record.nextAttemptAt = nil
            }
        case .activityInterrupted:
            updateActivity(event) { record in
                record.status = .scheduled
                record.interruptions += 1
            }
        case .activityRetrying(let failure, let nextAttemptAt):
            updateActivity(event) { record in
                record.status = .backoff
                record.error = failure
                record.nextAttemptAt = nextAttemptAt
            }
        case .activityFallback(let failure, _):
            updateActivity(event) { record in record.error = failure }
        case .activityWaiting(let reason):
            updateActivity(event) { record in
                record.status = .waiting
                record.startedAt = record.startedAt ?? event.at
                if let attempt = event.attempt { record.attempts = attempt }
                record.waitingOn = reason
            }
        case .activityCompleted(let completion):
            nextSeq = max(nextSeq, completion.seq + 1)
            mergeContext(completion.contextWrites)
            updateActivity(event) { record in
                record.viaFallback = completion.rescued != nil
                record.status = record.viaFallback ? .completedViaFallback : .completed
                record.output = completion.output
                record.seq = completion.seq
                record.error = completion.rescued
                record.settle(at: event.at, attempts: completion.attempts)
            }
        case .activityFailed(let failure, let attempts):
            updateActivity(event) { record in
                record.status = .failed
                record.error = failure
                record.settle(at: event.at, attempts: attempts)
            }
        case .activitySkipped(let reason):
            updateActivity(event) { record in
                record.status = .skipped
                if case .fallback(let failure, let attempts) = reason {
                    record.error = failure
                    record.settle(at: event.at, attempts: attempts)
                } else {
                    record.error = nil
                    record.settle(at: event.at, attempts: nil)
                }
            }
        case .activityCancelled(_, let attempts):
            updateActivity(event) { record in
                record.status = .cancelled
                record.settle(at: event.at, attempts: attempts)
            }

        case .compensationStarted:
            updateCompensation(event) { record in
                record.attempts = event.attempt ?? record.attempts + 1
                record.startedAt = record.startedAt ?? event.at
            }
        case .compensationCompleted(_, let output, let writes):
            mergeContext(writes)
            updateCompensation(event) { record in
                record.status = .completed
                record.finishedAt = event.at
                record.error = nil
                record.output = output
            }
        case .compensationFailed(let failure, _):
            updateCompensation(event) { record in
                record.status = .failed
                record.finishedAt = event.at
                record.error = failure
            }

        case .taskCreated(let task):
            guard let activity = event.activity else { return }
            tasks[task.id] = TaskRecord(
                id: task.id, tokenDigest: task.tokenDigest, runID: id, activity: activity, attempt: event.attempt ?? 1, users: task.users,
                groups: task.groups, form: task.form, createdAt: event.at, due: task.due, reminders: task.reminders)
        case .taskReminded(let taskID, let reminder):
            updateTask(taskID) { task in task.reminders.removeAll { $0 == reminder } }
        case .taskCompleted(let taskID, let data, let user):
            updateTask(taskID) { task in
                task.status = .completed
                task.completedBy = user
                task.data = data
            }
        case .taskExpired(let taskID, _): updateTask(taskID) { $0.status = .expired }
        case .taskCancelled(let taskID): updateTask(taskID) { $0.status = .cancelled }

        // Opens a journal (`init(queuedBy:)`), records who was asked, or is history only.
        case .runQueued, .taskAssigned, .activityLog, .activityRecorded, .circuit: break
        // Announced, never journaled.
        case .runNotification, .deadLetterCreated, .emitted: break

        case .notificationQueued(let queued): outbox[queued.id] = queued
        case .notificationDelivered(let id, _, _), .notificationDeadLettered(let id, _, _, _): outbox[id] = nil
        }
    }

    /// A redrive: the run runs again from where it stopped. Activities that failed or were
    /// cancelled are pending again with no attempts; completed and skipped ones keep their results.
    private mutating func reopen(deadline: Timestamp?) {
        status = .running
        ending = nil
        error = nil
        errorActivity = nil
        output = nil
        finishedAt = nil
        self.deadline = deadline
        pause = nil
        for index in activities.values.indices where activities.values[index].status == .failed || activities.values[index].status == .cancelled {
            activities.values[index] = ActivityRecord(name: activities.values[index].name)
        }
    }

    private mutating func finish(_ final: RunStatus, at: Timestamp) {
        status = final
        finishedAt = at
    }

    private mutating func mergeContext(_ writes: OrderedDictionary<String, Value>) {
        for (key, value) in writes {
            if value.isNull { context.removeValue(forKey: key) } else { context[key] = value }
        }
    }

    private mutating func updateActivity(_ event: RunEvent, _ change: (inout ActivityRecord) -> Void) {
        guard let name = event.activity else { return }
        change(&activities[name, default: ActivityRecord(name: name)])
    }

    private mutating func updateCompensation(_ event: RunEvent, _ change: (inout CompensationRecord) -> Void) {
        guard let index = compensations.firstIndex(where: { $0.activity == event.activity }) else { return }
        change(&compensations[index])
    }

    private mutating func updateTask(_ id: String, _ change: (inout TaskRecord) -> Void) {
        guard let index = tasks.index(forKey: id) else { return }
        change(&tasks.values[index])
    }
}

extension ActivityRecord {
    fileprivate mutating func settle(at: Timestamp, attempts: Int?) {
        if let attempts { self.attempts = attempts }
        finishedAt = at
        nextAttemptAt = nil
        waitingOn = nil
    }
}

import MoonflowModel
import OrderedCollections

/// Why a run stopped scheduling new activities (recorded by `run.failing`).
public enum RunEnding: String, Sendable, Hashable {
    case failed
    case timedOut = "timed_out"
    case cancelled
    case terminated
}

/// What a waiting activity waits on.
public enum WaitReason: Sendable, Hashable {
    case task(id: String)
    case childRun(id: String)
    case timer(until: Timestamp)
}

/// One activity of a run, as the journal left it.
public struct ActivityRecord: Sendable, Hashable {
    public var name: String
    public var status: ActivityStatus = .pending
    /// Attempts started so far (the current one included).
    public var attempts: Int = 0
    public var input: Value?
    public var output: Value?
    /// The last failure: the final one for a failed activity, the rescued one for a fallback.
    public var error: ActivityFailure?
    /// The completion sequence number (docs/workflow-format.md), ordering compensation.
    public var seq: Int?
    public var viaFallback: Bool = false
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    /// While in `backoff`: when the next attempt starts (absolute, so it survives a restart).
    public var nextAttemptAt: Timestamp?
    public var waitingOn: WaitReason?
    /// Attempts cut short by a crash (docs/resilience.md): they run again and do not use up `max_attempts`.
    public var interruptions: Int = 0

    public init(name: String) { self.name = name }
}

/// A manual task (docs/workflow-format.md).
public struct TaskRecord: Sendable, Hashable {
    public var id: String
    /// The SHA-256 (hex) of the secret a completion link carries; the token itself is never kept
    /// (`TaskToken`).
    public var tokenDigest: String
    public var runID: String
    public var activity: String
    /// The activity attempt this task belongs to (a retried manual activity creates a new task).
    public var attempt: Int
    public var users: [String]
    public var groups: [String]
    /// The JSON Schema the submitted data must satisfy.
    public var form: Value?
    public var createdAt: Timestamp
    public var due: Timestamp?
    /// Reminders not sent yet.
    public var reminders: [Timestamp]
    public var status: TaskStatus = .open
    public var completedBy: String?
    public var data: Value?

    public init(
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
public struct CompensationRecord: Sendable, Hashable {
    /// The activity undone.
    public var activity: String
    /// The script or body that undoes it, for reports.
    public var handler: String
    public var status: CompensationStatus = .pending
    public var attempts: Int = 0
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var error: ActivityFailure?
    /// What it returned, once completed.
    public var output: Value?
}

/// A durable timer: derived from the state (never stored apart), so it can never disagree with it.
public struct RunTimer: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case taskReminder(taskID: String)
        case taskDue(taskID: String)
        case sleep(activity: String)
        case runDeadline
        /// A queued run not admitted by then fails with `QueueTimeout` (docs/resilience.md).
        case queueTimeout
    }

    public var kind: Kind
    public var at: Timestamp
    public init(kind: Kind, at: Timestamp) {
        self.kind = kind
        self.at = at
    }
}

/// Where a queued run waits: its enqueue order and its `QueueTimeout` instant.
public struct QueuePlace: Sendable, Hashable {
    public var sequence: UInt64
    public var deadline: Timestamp?
    public init(sequence: UInt64, deadline: Timestamp?) {
        self.sequence = sequence
        self.deadline = deadline
    }
}

/// Who started a child run.
public struct ParentLink: Sendable, Hashable {
    public var runID: String
    public var activity: String
    public init(runID: String, activity: String) {
        self.runID = runID
        self.activity = activity
    }
}

/// A run's state: exactly the fold of its journal (`RunState.folding`). Stores keep it beside the
/// journal for queries; the engine changes it only by appending events.
public struct RunState: Sendable, Hashable {
    public var id: String
    public var workflow: String
    public var version: String?
    public var definitionHash: String
    public var status: RunStatus = .queued
    public var input: Value
    /// The trigger event, when a trigger started the run.
    public var triggerEvent: Value?
    public var context: OrderedDictionary<String, Value>
    public var output: Value?
    /// Why the run failed, with the activity that caused it.
    public var error: ActivityFailure?
    public var errorActivity: String?
    /// Set once the run stops scheduling; says which final state it heads for.
    public var ending: RunEnding?
    public var queuedAt: Timestamp
    /// The run's priority among queued runs (`strategy: priority`; default 0).
    public var priority: Int = 0
    /// Its place in the run queue when admission queued it (docs/resilience.md): what a restart rebuilds
    /// the queue from.
    public var queuePlace: QueuePlace?
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    /// The workflow `timeout` as an absolute time.
    public var deadline: Timestamp?
    public var parent: ParentLink?
    /// Who asked for the run (`run.queued`): what an idempotent repeat of its start must match.
    public var origin: RunOrigin = .request
    /// `StartHash` of the start request (`nil` for runs stored before it was recorded).
    public var startHash: String?
    /// In declaration order.
    public var activities: OrderedDictionary<String, ActivityRecord>
    /// The `seq` the next completion gets.
    public var nextSeq: Int = 1
    /// In plan order (the order they run).
    public var compensations: [CompensationRecord] = []
    /// `compensation.timeout` as an absolute time: compensations still running then are stopped
    /// (`Timeout`), the rest stay pending, and the run ends `compensation_failed`.
    public var compensationDeadline: Timestamp?
    public var tasks: OrderedDictionary<String, TaskRecord> = [:]
    /// How many journal entries have been folded: the version stores check appends against.
    public var journalLength: Int = 0

    /// Durable timers of a run that is not finished.
    public var timers: [RunTimer] {
        guard !status.isTerminal else { return [] }
        var timers: [RunTimer] = []
        for task in tasks.values where task.status == .open {
            timers += task.reminders.map { RunTimer(kind: .taskReminder(taskID: task.id), at: $0) }
            if let due = task.due { timers.append(RunTimer(kind: .taskDue(taskID: task.id), at: due)) }
        }
        for record in activities.values {
            if record.status == .waiting, case .timer(let until) = record.waitingOn {
                timers.append(RunTimer(kind: .sleep(activity: record.name), at: until))
            }
        }
        if let deadline, ending == nil { timers.append(RunTimer(kind: .runDeadline, at: deadline)) }
        if status == .queued, ending == nil, let deadline = queuePlace?.deadline {
            timers.append(RunTimer(kind: .queueTimeout, at: deadline))
        }
        return timers.sorted { $0.at < $1.at }
    }

    /// `steps` as expressions and scripts see it: `{name: {output, status}}` for every activity that finished.
    public var steps: Value { steps(.all) }

    /// `steps` with only the entries `use` can read (`StepsUse`).
    public func steps(_ use: StepsUse) -> Value {
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
    public static func folding(_ journal: [RunEvent]) -> RunState? {
        guard let first = journal.first, var state = RunState(queuedBy: first) else { return nil }
        for event in journal.dropFirst() { state.apply(event) }
        return state
    }

    /// The state of a new run, from its `run.queued` event.
    public init?(queuedBy event: RunEvent) {
        guard event.type == .runQueued else { return nil }
        let data = event.data
        id = event.runID
        workflow = event.workflow
        version = data["version"]?.stringValue
        definitionHash = data["definition_hash"]?.stringValue ?? ""
        input = data["input"] ?? .null
        triggerEvent = data["event"].flatMap { $0.isNull ? nil : $0 }
        context = data["context"]?.objectValue ?? [:]
        queuedAt = event.at
        priority = data["priority"]?.intValue.map(Int.init) ?? 0
        if let place = data["queue"], let sequence = place["sequence"]?.intValue {
            queuePlace = QueuePlace(sequence: UInt64(sequence), deadline: Timestamp(eventValue: place["deadline"]))
        }
        if let parentRun = data["parent_run"]?.stringValue, let parentActivity = data["parent_activity"]?.stringValue {
            parent = ParentLink(runID: parentRun, activity: parentActivity)
        }
        origin = RunOrigin(data: data, hasParent: parent != nil)
        startHash = data["start_hash"]?.stringValue
        activities = [:]
        for name in data["activities"]?.arrayValue ?? [] {
            if let name = name.stringValue { activities[name] = ActivityRecord(name: name) }
        }
        journalLength = 1
    }

    /// Applies one journal entry. Unknown types change nothing but the journal length.
    public mutating func apply(_ event: RunEvent) {
        journalLength += 1
        let data = event.data
        switch event.type {
        case .runStarted:
            status = .running
            startedAt = event.at
            deadline = Timestamp(eventValue: data["deadline"])
        case .runWaiting: status = .waiting
        case .runResumed: status = .running
        case .runFailing:
            let cause = data["cause"]?.stringValue.flatMap(RunEnding.init(rawValue:)) ?? .failed
            // The first cause wins, except that a termination overrides a pending compensation.
            guard ending == nil || cause == .terminated else { return }
            ending = cause
            if error == nil, let failure = data["error"] {
                error = ActivityFailure(value: failure)
                errorActivity = data["activity"]?.stringValue
            }
        case .runCompensating:
            status = .compensating
            compensationDeadline = Timestamp(eventValue: data["deadline"])
            guard compensations.isEmpty else { return }
            compensations = (data["plan"]?.arrayValue ?? []).compactMap { step in
                guard let activity = step["activity"]?.stringValue else { return nil }
                return CompensationRecord(activity: activity, handler: step["handler"]?.stringValue ?? "")
            }
        case .runCompleted:
            output = data["output"]
            finish(.completed, at: event.at)
        case .runFailed: finish(.failed, at: event.at)
        case .runTimedOut: finish(.timedOut, at: event.at)
        case .runCancelled: finish(.cancelled, at: event.at)
        case .runTerminated: finish(.terminated, at: event.at)
        case .runCompensated: finish(.compensated, at: event.at)
        case .runCompensationFailed: finish(.compensationFailed, at: event.at)
        case .runCompensationResumed:
            status = .compensating
            finishedAt = nil
            compensationDeadline = Timestamp(eventValue: data["deadline"])
            if let repinned = data["definition_hash"]?.stringValue { definitionHash = repinned }
            for index in compensations.indices where compensations[index].status == .failed {
                compensations[index].status = .pending
                compensations[index].attempts = 0
                compensations[index].error = nil
                compensations[index].finishedAt = nil
            }

        case .activityScheduled:
            updateActivity(event) { record in
                record.status = .scheduled
                record.input = data["input"]
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
        case .activityRetrying:
            updateActivity(event) { record in
                record.status = .backoff
                record.error = data["error"].map(ActivityFailure.init(value:))
                record.nextAttemptAt = Timestamp(eventValue: data["next_attempt_at"])
            }
        case .activityFallback:
            updateActivity(event) { record in record.error = data["error"].map(ActivityFailure.init(value:)) }
        case .activityWaiting:
            updateActivity(event) { record in
                record.status = .waiting
                record.startedAt = record.startedAt ?? event.at
                if let attempt = event.attempt { record.attempts = attempt }
                if let task = data["task"]?.stringValue {
                    record.waitingOn = .task(id: task)
                } else if let child = data["child_run"]?.stringValue {
                    record.waitingOn = .childRun(id: child)
                } else if let until = Timestamp(eventValue: data["until"]) {
                    record.waitingOn = .timer(until: until)
                }
            }
        case .activityCompleted:
            let seq = data["seq"]?.intValue.map(Int.init) ?? nextSeq
            nextSeq = max(nextSeq, seq + 1)
            mergeContext(data["context_writes"])
            updateActivity(event) { record in
                record.viaFallback = data["via_fallback"]?.boolValue ?? false
                record.status = record.viaFallback ? .completedViaFallback : .completed
                record.output = data["output"] ?? .null
                record.seq = seq
                record.error = data["error"].map(ActivityFailure.init(value:))
                record.settle(event)
            }
        case .activityFailed:
            updateActivity(event) { record in
                record.status = .failed
                record.error = data["error"].map(ActivityFailure.init(value:))
                record.settle(event)
            }
        case .activitySkipped:
            updateActivity(event) { record in
                record.status = .skipped
                record.error = data["error"].map(ActivityFailure.init(value:))
                record.settle(event)
            }
        case .activityCancelled:
            updateActivity(event) { record in
                record.status = .cancelled
                record.settle(event)
            }

        case .compensationStarted:
            updateCompensation(event) { record in
                record.attempts = event.attempt ?? record.attempts + 1
                record.startedAt = record.startedAt ?? event.at
            }
        case .compensationCompleted:
            mergeContext(data["context_writes"])
            updateCompensation(event) { record in
                record.status = .completed
                record.finishedAt = event.at
                record.error = nil
                record.output = data["output"]
            }
        case .compensationFailed:
            updateCompensation(event) { record in
                record.status = .failed
                record.finishedAt = event.at
                record.error = data["error"].map(ActivityFailure.init(value:))
            }

        case .taskCreated:
            guard let id = data["id"]?.stringValue, let activity = event.activity else { return }
            tasks[id] = TaskRecord(
                id: id, tokenDigest: data["token_sha256"]?.stringValue ?? data["token"]?.stringValue.map(TaskToken.digest(of:)) ?? "",
                runID: self.id, activity: activity,
                attempt: event.attempt ?? 1, users: data["users"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                groups: data["groups"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                form: data["form"].flatMap { $0.isNull ? nil : $0 }, createdAt: event.at,
                due: Timestamp(eventValue: data["due"]),
                reminders: data["reminders"]?.arrayValue?.compactMap { Timestamp(eventValue: $0) } ?? [])
        case .taskReminded:
            updateTask(data) { task in
                if let at = Timestamp(eventValue: data["reminder"]) { task.reminders.removeAll { $0 == at } }
            }
        case .taskCompleted:
            updateTask(data) { task in
                task.status = .completed
                task.completedBy = data["user"]?.stringValue
                task.data = data["data"]
            }
        case .taskExpired: updateTask(data) { $0.status = .expired }
        case .taskCancelled: updateTask(data) { $0.status = .cancelled }
        default: break
        }
    }

    private mutating func finish(_ final: RunStatus, at: Timestamp) {
        status = final
        finishedAt = at
    }

    private mutating func mergeContext(_ writes: Value?) {
        for (key, value) in writes?.objectValue ?? [:] {
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

    private mutating func updateTask(_ data: Value, _ change: (inout TaskRecord) -> Void) {
        guard let id = data["id"]?.stringValue, var task = tasks[id] else { return }
        change(&task)
        tasks[id] = task
    }
}

extension ActivityRecord {
    fileprivate mutating func settle(_ event: RunEvent) {
        if let attempts = event.data["attempts"]?.intValue { self.attempts = Int(attempts) }
        finishedAt = event.at
        nextAttemptAt = nil
        waitingOn = nil
    }
}

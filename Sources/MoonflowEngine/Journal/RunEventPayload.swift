package import MoonflowModel
package import OrderedCollections

extension RunEvent {
    /// What happened, typed: one case per event type, with what the fold and the announcements
    /// need. Its JSON shape (`RunEvent.data`, docs/workflow-format.md) is made and read only at the
    /// edges (`RunEvent+JSON.swift`, `JournalDecoding.swift`).
    package enum Payload: Sendable, Hashable {
        indirect case runQueued(QueuedRun)
        /// `deadline`: the workflow `timeout` as an absolute time.
        case runStarted(deadline: Timestamp?)
        case runWaiting
        case runResumed
        /// The run stops scheduling; `activity` is the one whose failure ended it.
        case runFailing(cause: RunEnding, error: ActivityFailure, activity: String?)
        /// The plan in the order it runs; `deadline`: `compensation.timeout` as an absolute time.
        case runCompensating(plan: [PlannedCompensation], deadline: Timestamp?)
        case runCompleted(output: Value)
        case runFailed
        case runTimedOut
        case runCancelled
        case runTerminated
        case runCompensated
        case runCompensationFailed
        /// `repin`: the definition the run continues under, when an operator chose a newer one.
        case runCompensationResumed(deadline: Timestamp?, repin: Repin?)
        /// Announced on the bus, not journaled.
        case runNotification(RunNotification)
        case runPaused(PauseReason)
        /// `step`: run one more activity, then pause again.
        case runUnpaused(step: Bool)
        /// `deadline`: the workflow `timeout` counted again from the redrive; `repin`: the
        /// definition the run continues under, when an operator chose the current one, with
        /// `activities` the activities that definition declares (new ones join the run pending).
        case runRedriven(deadline: Timestamp?, repin: Repin?, activities: [String])

        case activityScheduled(input: Value)
        case activityStarted
        case activityRetrying(error: ActivityFailure, nextAttemptAt: Timestamp)
        case activityInterrupted
        /// `notify`: whether the bus announces it (the journal records every fallback).
        case activityFallback(error: ActivityFailure, notify: Bool)
        case activityWaiting(WaitReason)
        indirect case activityCompleted(ActivityCompletion)
        case activityFailed(error: ActivityFailure, attempts: Int)
        case activitySkipped(SkipReason)
        /// `attempts` is recorded when a running attempt was cancelled, not for a waiting activity.
        case activityCancelled(error: ActivityFailure, attempts: Int?)
        /// A script's `log.*` entry; its `fields` are whatever the script passed.
        case activityLog(ScriptLogEntry)
        /// What the non-deterministic built-ins of an attempt answered (`runs replay`).
        case activityRecorded(ScriptRecording)

        case compensationStarted
        /// `output` is absent when the compensation was skipped.
        case compensationCompleted(attempts: Int, output: Value?, contextWrites: OrderedDictionary<String, Value>)
        /// `attempts` is absent when it failed before starting.
        case compensationFailed(error: ActivityFailure, attempts: Int?)

        indirect case taskCreated(CreatedTask)
        case taskAssigned(id: String, users: [String], groups: [String])
        case taskReminded(id: String, reminder: Timestamp)
        case taskCompleted(id: String, data: Value, user: String)
        case taskExpired(id: String, error: ActivityFailure)
        case taskCancelled(id: String)

        /// A breaker changed state (`circuit.opened`, `circuit.half_open`, `circuit.closed`).
        case circuit(breaker: String, from: CircuitState, to: CircuitState)
        /// Announced on the bus, not journaled.
        case deadLetterCreated(DeadLetterNotice)
        /// An event a script emitted (any type outside `EventType.reservedPrefixes`): announced on
        /// the bus once its activity completed; journaled inside that `activity.completed`.
        case emitted(type: EventType, payload: Value)

        indirect case notificationQueued(QueuedNotification)
        case notificationDelivered(id: String, channel: String, attempts: Int)
        case notificationDeadLettered(id: String, channel: String, attempts: Int, error: ActivityFailure)

        package var type: EventType {
            switch self {
            case .runQueued: .runQueued
            case .runStarted: .runStarted
            case .runWaiting: .runWaiting
            case .runResumed: .runResumed
            case .runFailing: .runFailing
            case .runCompensating: .runCompensating
            case .runCompleted: .runCompleted
            case .runFailed: .runFailed
            case .runTimedOut: .runTimedOut
            case .runCancelled: .runCancelled
            case .runTerminated: .runTerminated
            case .runCompensated: .runCompensated
            case .runCompensationFailed: .runCompensationFailed
            case .runCompensationResumed: .runCompensationResumed
            case .runNotification: .runNotification
            case .runPaused: .runPaused
            case .runUnpaused: .runUnpaused
            case .runRedriven: .runRedriven
            case .activityScheduled: .activityScheduled
            case .activityStarted: .activityStarted
            case .activityRetrying: .activityRetrying
            case .activityInterrupted: .activityInterrupted
            case .activityFallback: .activityFallback
            case .activityWaiting: .activityWaiting
            case .activityCompleted: .activityCompleted
            case .activityFailed: .activityFailed
            case .activitySkipped: .activitySkipped
            case .activityCancelled: .activityCancelled
            case .activityLog: .activityLog
            case .activityRecorded: .activityRecorded
            case .compensationStarted: .compensationStarted
            case .compensationCompleted: .compensationCompleted
            case .compensationFailed: .compensationFailed
            case .taskCreated: .taskCreated
            case .taskAssigned: .taskAssigned
            case .taskReminded: .taskReminded
            case .taskCompleted: .taskCompleted
            case .taskExpired: .taskExpired
            case .taskCancelled: .taskCancelled
            case .circuit(_, _, let to): EventType.circuit(to)
            case .deadLetterCreated: .deadLetterCreated
            case .emitted(let type, _): type
            case .notificationQueued: .notificationQueued
            case .notificationDelivered: .notificationDelivered
            case .notificationDeadLettered: .notificationDeadLettered
            }
        }
    }
}

extension EventType {
    /// The event of a breaker entering `state`.
    static func circuit(_ state: CircuitState) -> EventType {
        switch state {
        case .open: "circuit.opened"
        case .halfOpen: "circuit.half_open"
        case .closed: "circuit.closed"
        }
    }
}

/// What `run.queued` records: everything the run starts from.
package struct QueuedRun: Sendable, Hashable {
    /// The workflow's `version` label.
    package var version: String?
    package var definitionHash: String
    package var input: Value
    /// The workflow's context defaults.
    package var context: OrderedDictionary<String, Value>
    /// Every activity, in declaration order.
    package var activities: [String]
    /// The trigger event, when a trigger started the run.
    package var triggerEvent: Value?
    package var priority: Int
    /// `StartHash` of the start request.
    package var startHash: String?
    package var origin: RunOrigin
    package var parent: ParentLink?
    /// Its place in the run queue, when admission queued it.
    package var queuePlace: QueuePlace?
    /// Activities the run pauses before (`--break-before`, `debug.break_before`).
    package var breakBefore: [String] = []
    /// The run this one reruns (`runs rerun`).
    package var rerunOf: RerunSource?
    /// The W3C `traceparent` its start came with: the run's trace continues the caller's.
    package var traceParent: TraceParent?

    package init(
        version: String? = nil, definitionHash: String, input: Value, context: OrderedDictionary<String, Value> = [:],
        activities: [String], triggerEvent: Value? = nil, priority: Int = 0, startHash: String? = nil, origin: RunOrigin = .request,
        parent: ParentLink? = nil, queuePlace: QueuePlace? = nil, breakBefore: [String] = [], rerunOf: RerunSource? = nil,
        traceParent: TraceParent? = nil
    ) {
        self.traceParent = traceParent
        self.breakBefore = breakBefore
        self.rerunOf = rerunOf
        self.version = version
        self.definitionHash = definitionHash
        self.input = input
        self.context = context
        self.activities = activities
        self.triggerEvent = triggerEvent
        self.priority = priority
        self.startHash = startHash
        self.origin = origin
        self.parent = parent
        self.queuePlace = queuePlace
    }
}

/// Why a run paused (`run.paused`).
package enum PauseReason: Sendable, Hashable {
    /// `moonflow runs pause` (or the API).
    case requested
    /// The run reached an activity named in its `break_before`.
    case breakpoint(activity: String)
    /// A `continue --step` ran its one activity; this one is next.
    case step(activity: String)

    /// The activity the run stopped before (none for a requested pause).
    package var activity: String? {
        switch self {
        case .requested: nil
        case .breakpoint(let activity), .step(let activity): activity
        }
    }

    package var name: String {
        switch self {
        case .requested: "requested"
        case .breakpoint: "breakpoint"
        case .step: "step"
        }
    }
}

/// What a rerun takes from the run it reruns: the original's id, the activity it reruns from, and
/// the completions of the activities the graph places before it, adopted without executing.
package struct RerunSource: Sendable, Hashable {
    package var runID: String
    package var from: String
    package init(runID: String, from: String) {
        self.runID = runID
        self.from = from
    }
}

/// One compensation of the plan `run.compensating` records.
package struct PlannedCompensation: Sendable, Hashable {
    package var activity: String
    /// The script or body that undoes it, for reports.
    package var handler: String
    package init(activity: String, handler: String) {
        self.activity = activity
        self.handler = handler
    }
}

/// The definition a resumed compensation continues under, and the one it leaves.
package struct Repin: Sendable, Hashable {
    package var definitionHash: String
    package var previousDefinitionHash: String
    package init(definitionHash: String, previousDefinitionHash: String) {
        self.definitionHash = definitionHash
        self.previousDefinitionHash = previousDefinitionHash
    }
}

/// A notification in a run's outbox: what a channel (a connection, or `log`) is sent.
package struct QueuedNotification: Sendable, Hashable {
    /// `<run id>:<journal position of the queued entry>`, the same after a restart: the
    /// `Idempotency-Key` of its delivery.
    package var id: String
    package var channel: String
    /// `{event, workflow, run_id, activity, error, recipients, url}`.
    package var message: Value
    package init(id: String, channel: String, message: Value) {
        self.id = id
        self.channel = channel
        self.message = message
    }
}

/// `run.notification`: a failed run of a workflow with `workflow_error.notification`.
package struct RunNotification: Sendable, Hashable {
    /// How the run ended.
    package var status: RunStatus
    package var channels: [String]
    package var recipients: [String]
    package var error: ActivityFailure?
    package init(status: RunStatus, channels: [String], recipients: [String], error: ActivityFailure?) {
        self.status = status
        self.channels = channels
        self.recipients = recipients
        self.error = error
    }
}

/// How an activity completed.
package struct ActivityCompletion: Sendable, Hashable {
    /// The completion sequence number, ordering compensation.
    package var seq: Int
    package var output: Value
    package var attempts: Int
    /// Context variables the body set (`null`: removed).
    package var contextWrites: OrderedDictionary<String, Value>
    /// Events the body emitted, published once the completion is written.
    package var emitted: [EmittedEvent]
    /// The failure a fallback rescued: the activity completed via its fallback.
    package var rescued: ActivityFailure?

    package init(
        seq: Int, output: Value, attempts: Int, contextWrites: OrderedDictionary<String, Value> = [:], emitted: [EmittedEvent] = [],
        rescued: ActivityFailure? = nil
    ) {
        self.seq = seq
        self.output = output
        self.attempts = attempts
        self.contextWrites = contextWrites
        self.emitted = emitted
        self.rescued = rescued
    }
}

/// Why an activity was skipped.
package enum SkipReason: Sendable, Hashable {
    /// Conditional edges led to it and none was taken.
    case noIncomingEdge
    /// Its `when` was false.
    case whenFalse
    /// Its fallback is `skip`, after this failure and this many attempts.
    case fallback(error: ActivityFailure, attempts: Int)
}

/// `task.created`: a manual task as it opens.
package struct CreatedTask: Sendable, Hashable {
    package var id: String
    /// The SHA-256 (hex) of the task's token (`TaskToken`).
    package var tokenDigest: String
    package var users: [String]
    package var groups: [String]
    /// The JSON Schema the submitted data must satisfy.
    package var form: Value?
    package var due: Timestamp?
    package var reminders: [Timestamp]

    package init(
        id: String, tokenDigest: String, users: [String], groups: [String], form: Value?, due: Timestamp?, reminders: [Timestamp]
    ) {
        self.id = id
        self.tokenDigest = tokenDigest
        self.users = users
        self.groups = groups
        self.form = form
        self.due = due
        self.reminders = reminders
    }
}

/// `dead_letter.created`: a workflow refused an event's input and the start was kept as a dead letter.
package struct DeadLetterNotice: Sendable, Hashable {
    package var id: String
    package var eventType: String
    package var eventID: String?
    package var errors: [String]
    package init(id: String, eventType: String, eventID: String?, errors: [String]) {
        self.id = id
        self.eventType = eventType
        self.eventID = eventID
        self.errors = errors
    }
}

import MoonflowModel

/// The type of an event (docs/workflow-format.md). The engine's own are listed here; scripts may emit any other.
public struct EventType: RawRepresentable, Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let runQueued: EventType = "run.queued"
    public static let runStarted: EventType = "run.started"
    public static let runWaiting: EventType = "run.waiting"
    public static let runResumed: EventType = "run.resumed"
    /// The run stops scheduling: an activity failed, the deadline passed, or it was cancelled or
    /// terminated. In-flight activities are cancelled next, then compensation may run.
    public static let runFailing: EventType = "run.failing"
    public static let runCompensating: EventType = "run.compensating"
    public static let runCompleted: EventType = "run.completed"
    public static let runFailed: EventType = "run.failed"
    public static let runTimedOut: EventType = "run.timed_out"
    public static let runCancelled: EventType = "run.cancelled"
    public static let runTerminated: EventType = "run.terminated"
    public static let runCompensated: EventType = "run.compensated"
    public static let runCompensationFailed: EventType = "run.compensation_failed"
    /// An operator continues a `compensation_failed` run: failed compensations run again with a
    /// fresh retry budget, then the pending ones (`moonflow runs resume-compensation`).
    public static let runCompensationResumed: EventType = "run.compensation_resumed"
    /// A failed run of a workflow with `workflow_error.notification`: announced on the bus, not journaled.
    public static let runNotification: EventType = "run.notification"

    public static let activityScheduled: EventType = "activity.scheduled"
    public static let activityStarted: EventType = "activity.started"
    public static let activityRetrying: EventType = "activity.retrying"
    /// Found running when a drive began: the process that ran it died; it runs again.
    public static let activityInterrupted: EventType = "activity.interrupted"
    public static let activityFallback: EventType = "activity.fallback"
    public static let activityWaiting: EventType = "activity.waiting"
    public static let activityCompleted: EventType = "activity.completed"
    public static let activityFailed: EventType = "activity.failed"
    public static let activitySkipped: EventType = "activity.skipped"
    public static let activityCancelled: EventType = "activity.cancelled"
    /// A script's `log.*` call (`data: {level, message, fields?}`), of the attempt in `attempt`.
    /// Changes nothing in the run's state.
    public static let activityLog: EventType = "activity.log"

    public static let compensationStarted: EventType = "compensation.started"
    public static let compensationCompleted: EventType = "compensation.completed"
    public static let compensationFailed: EventType = "compensation.failed"

    public static let taskCreated: EventType = "task.created"
    public static let taskAssigned: EventType = "task.assigned"
    public static let taskReminded: EventType = "task.reminded"
    public static let taskCompleted: EventType = "task.completed"
    public static let taskExpired: EventType = "task.expired"
    public static let taskCancelled: EventType = "task.cancelled"

    /// A workflow refused an event's input and the start was stored as a dead letter
    /// (`data: {dead_letter_id, event_type, event_id, errors}`); announced on the bus, not journaled.
    public static let deadLetterCreated: EventType = "dead_letter.created"

    /// Prefixes of the engine's own types: a script may not emit these (it could fake a transition).
    public static let reservedPrefixes = ["run.", "activity.", "compensation.", "task.", "circuit.", "dead_letter."]

    public var isReserved: Bool { Self.reservedPrefixes.contains { rawValue.hasPrefix($0) } }
}

/// One event `{type, run_id, workflow, activity?, attempt?, at, data}` (docs/workflow-format.md): an entry of a
/// run's journal, and what subscribers receive. Its `payload` holds, typed, everything the fold needs,
/// so the journal alone rebuilds the run (`RunState.folding`); `data` is the payload's JSON shape,
/// made only where an event leaves the engine (the store, the API, the CLI).
///
/// `position` is set on events a store committed (`RunStore.events(after:)`, and what the engine
/// publishes after a commit); it is not part of the event's value: two events are equal whatever
/// their positions.
public struct RunEvent: Sendable, Hashable {
    public var runID: String
    public var workflow: String
    public var activity: String?
    public var attempt: Int?
    public var at: Timestamp
    public var payload: Payload
    public var position: EventPosition?

    public init(_ payload: Payload, runID: String, workflow: String, activity: String? = nil, attempt: Int? = nil, at: Timestamp) {
        self.payload = payload
        self.runID = runID
        self.workflow = workflow
        self.activity = activity
        self.attempt = attempt
        self.at = at
    }

    public var type: EventType { payload.type }

    public static func == (lhs: RunEvent, rhs: RunEvent) -> Bool {
        lhs.payload == rhs.payload && lhs.runID == rhs.runID && lhs.workflow == rhs.workflow && lhs.activity == rhs.activity
            && lhs.attempt == rhs.attempt && lhs.at == rhs.at
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(payload)
        hasher.combine(runID)
        hasher.combine(at)
    }

    /// This event at `position`.
    public func at(_ position: EventPosition) -> RunEvent {
        var event = self
        event.position = position
        return event
    }
}

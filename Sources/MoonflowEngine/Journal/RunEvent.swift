import MoonflowModel
import OrderedCollections

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
/// run's journal, and what subscribers receive. `data` holds everything the fold needs, so the
/// journal alone rebuilds the run (`RunState.folding`).
///
/// `position` is set on events a store committed (`RunStore.events(after:)`, and what the engine
/// publishes after a commit); it is not part of the event's value: two events are equal whatever
/// their positions.
public struct RunEvent: Sendable, Hashable {
    public var type: EventType
    public var runID: String
    public var workflow: String
    public var activity: String?
    public var attempt: Int?
    public var at: Timestamp
    public var data: Value
    public var position: EventPosition?

    public init(
        type: EventType, runID: String, workflow: String, activity: String? = nil, attempt: Int? = nil, at: Timestamp,
        data: Value = .object([:])
    ) {
        self.type = type
        self.runID = runID
        self.workflow = workflow
        self.activity = activity
        self.attempt = attempt
        self.at = at
        self.data = data
    }

    public static func == (lhs: RunEvent, rhs: RunEvent) -> Bool {
        lhs.type == rhs.type && lhs.runID == rhs.runID && lhs.workflow == rhs.workflow && lhs.activity == rhs.activity
            && lhs.attempt == rhs.attempt && lhs.at == rhs.at && lhs.data == rhs.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        hasher.combine(runID)
        hasher.combine(at)
        hasher.combine(data)
    }

    /// This event at `position`.
    public func at(_ position: EventPosition) -> RunEvent {
        var event = self
        event.position = position
        return event
    }

    /// The JSON shape, for stores, the API stream and logs.
    public func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = [
            "type": .string(type.rawValue), "run_id": .string(runID), "workflow": .string(workflow),
        ]
        if let activity { object["activity"] = .string(activity) }
        if let attempt { object["attempt"] = .int(Int64(attempt)) }
        object["at"] = .int(at.nanosecondsSinceEpoch)
        object["data"] = data
        return .object(object)
    }

    /// Reads back what `toValue()` wrote; `nil` when a required member is missing.
    public init?(value: Value) {
        guard let type = value["type"]?.stringValue, let runID = value["run_id"]?.stringValue,
            let workflow = value["workflow"]?.stringValue, let at = value["at"]?.intValue
        else { return nil }
        self.init(
            type: EventType(type), runID: runID, workflow: workflow, activity: value["activity"]?.stringValue,
            attempt: value["attempt"]?.intValue.map(Int.init), at: Timestamp(nanosecondsSinceEpoch: at),
            data: value["data"] ?? .object([:]))
    }
}

extension ActivityFailure {
    /// The shape stored in events and shown to expressions as `error`.
    public func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = ["type": .string(type.rawValue), "message": .string(message)]
        if let retryable { object["retryable"] = .bool(retryable) }
        if let details { object["details"] = details }
        if let script { object["script"] = .string(script) }
        if let line { object["line"] = .int(Int64(line)) }
        return .object(object)
    }

    /// Reads back `toValue()`; a malformed value becomes an `ActivityError` describing it.
    public init(value: Value) {
        self.init(
            ErrorType(value["type"]?.stringValue ?? ErrorType.activityError.rawValue),
            value["message"]?.stringValue ?? "", retryable: value["retryable"]?.boolValue, details: value["details"],
            script: value["script"]?.stringValue, line: value["line"]?.intValue.map(Int.init))
    }
}

extension Timestamp {
    /// Timestamps inside event data are integers of nanoseconds, exact through JSON.
    var eventValue: Value { .int(nanosecondsSinceEpoch) }

    init?(eventValue: Value?) {
        guard let nanos = eventValue?.intValue else { return nil }
        self.init(nanosecondsSinceEpoch: nanos)
    }
}

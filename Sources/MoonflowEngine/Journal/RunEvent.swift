package import MoonflowModel

/// The type of an event (docs/workflow-format.md). The engine's own are listed here; scripts may emit any other.
package struct EventType: RawRepresentable, Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    package var rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package init(stringLiteral value: String) { self.rawValue = value }
    package var description: String { rawValue }

    package static let runQueued: EventType = "run.queued"
    package static let runStarted: EventType = "run.started"
    package static let runWaiting: EventType = "run.waiting"
    package static let runResumed: EventType = "run.resumed"
    /// The run stops scheduling: an activity failed, the deadline passed, or it was cancelled or
    /// terminated. In-flight activities are cancelled next, then compensation may run.
    package static let runFailing: EventType = "run.failing"
    package static let runCompensating: EventType = "run.compensating"
    package static let runCompleted: EventType = "run.completed"
    package static let runFailed: EventType = "run.failed"
    package static let runTimedOut: EventType = "run.timed_out"
    package static let runCancelled: EventType = "run.cancelled"
    package static let runTerminated: EventType = "run.terminated"
    package static let runCompensated: EventType = "run.compensated"
    package static let runCompensationFailed: EventType = "run.compensation_failed"
    /// An operator continues a `compensation_failed` run: failed compensations run again with a
    /// fresh retry budget, then the pending ones (`moonflow runs resume-compensation`).
    package static let runCompensationResumed: EventType = "run.compensation_resumed"
    /// The run starts no new activity: an operator paused it, or it reached a breakpoint or the
    /// end of a step (`data: {reason, activity?}`, docs/operations.md).
    package static let runPaused: EventType = "run.paused"
    /// A paused run goes on (`runs unpause`, `runs continue`); with `step`, it pauses again before
    /// the activity after the next one (`data: {step}`).
    package static let runUnpaused: EventType = "run.unpaused"
    /// A failed, timed-out or cancelled run continues from where it stopped (`runs redrive`):
    /// failed and cancelled activities run again with fresh attempts; with a re-pin, under the
    /// current definition (`data: {definition_hash?, previous_definition_hash?}`).
    package static let runRedriven: EventType = "run.redriven"
    /// A failed run of a workflow with `workflow_error.notification`: announced on the bus, not journaled.
    package static let runNotification: EventType = "run.notification"

    package static let activityScheduled: EventType = "activity.scheduled"
    package static let activityStarted: EventType = "activity.started"
    package static let activityRetrying: EventType = "activity.retrying"
    /// Found running when a drive began: the process that ran it died; it runs again.
    package static let activityInterrupted: EventType = "activity.interrupted"
    package static let activityFallback: EventType = "activity.fallback"
    package static let activityWaiting: EventType = "activity.waiting"
    package static let activityCompleted: EventType = "activity.completed"
    package static let activityFailed: EventType = "activity.failed"
    package static let activitySkipped: EventType = "activity.skipped"
    package static let activityCancelled: EventType = "activity.cancelled"
    /// A script's `log.*` call (`data: {level, message, fields?}`), of the attempt in `attempt`.
    /// Changes nothing in the run's state.
    package static let activityLog: EventType = "activity.log"
    /// What the non-deterministic built-ins of the attempt in `attempt` answered
    /// (`data: {now?, unix?, uuid?, random_seeds?, http?, truncated?}`), written with the attempt's
    /// end when it called any: what `moonflow runs replay` gives the script back. History only.
    package static let activityRecorded: EventType = "activity.recorded"

    package static let compensationStarted: EventType = "compensation.started"
    package static let compensationCompleted: EventType = "compensation.completed"
    package static let compensationFailed: EventType = "compensation.failed"

    package static let taskCreated: EventType = "task.created"
    package static let taskAssigned: EventType = "task.assigned"
    package static let taskReminded: EventType = "task.reminded"
    package static let taskCompleted: EventType = "task.completed"
    package static let taskExpired: EventType = "task.expired"
    package static let taskCancelled: EventType = "task.cancelled"

    /// A workflow refused an event's input and the start was stored as a dead letter
    /// (`data: {dead_letter_id, event_type, event_id, errors}`); announced on the bus, not journaled.
    package static let deadLetterCreated: EventType = "dead_letter.created"

    /// A notification for a channel, written with the transition it announces: the run's outbox
    /// (`data: {id, channel, message}`, docs/integrations.md).
    package static let notificationQueued: EventType = "notification.queued"
    /// The channel took it (`data: {id, channel, attempts}`).
    package static let notificationDelivered: EventType = "notification.delivered"
    /// Every delivery attempt failed: the notification's dead letter (`data: {id, channel, attempts, error}`).
    package static let notificationDeadLettered: EventType = "notification.dead_lettered"

    /// Prefixes of the engine's own types: a script may not emit these (it could fake a transition).
    package static let reservedPrefixes = ["run.", "activity.", "compensation.", "task.", "circuit.", "dead_letter.", "notification."]

    package var isReserved: Bool { Self.reservedPrefixes.contains { rawValue.hasPrefix($0) } }
}

/// One event `{type, run_id, workflow, activity?, attempt?, at, data}` (docs/workflow-format.md): an entry of a
/// run's journal, and what subscribers receive. Its `payload` holds, typed, everything the fold needs,
/// so the journal alone rebuilds the run (`RunState.folding`); `data` is the payload's JSON shape,
/// made only where an event leaves the engine (the store, the API, the CLI).
///
/// `position` is set on events a store committed (`RunStore.events(after:)`, and what the engine
/// publishes after a commit); it is not part of the event's value: two events are equal whatever
/// their positions.
package struct RunEvent: Sendable, Hashable {
    package var runID: String
    package var workflow: String
    package var activity: String?
    package var attempt: Int?
    package var at: Timestamp
    package var payload: Payload
    package var position: EventPosition?

    package init(_ payload: Payload, runID: String, workflow: String, activity: String? = nil, attempt: Int? = nil, at: Timestamp) {
        self.payload = payload
        self.runID = runID
        self.workflow = workflow
        self.activity = activity
        self.attempt = attempt
        self.at = at
    }

    package var type: EventType { payload.type }

    package static func == (lhs: RunEvent, rhs: RunEvent) -> Bool {
        lhs.payload == rhs.payload && lhs.runID == rhs.runID && lhs.workflow == rhs.workflow && lhs.activity == rhs.activity
            && lhs.attempt == rhs.attempt && lhs.at == rhs.at
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(payload)
        hasher.combine(runID)
        hasher.combine(at)
    }

    /// This event at `position`.
    package func at(_ position: EventPosition) -> RunEvent {
        var event = self
        event.position = position
        return event
    }
}

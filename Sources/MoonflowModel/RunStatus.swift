/// The state of a run (docs/workflow-format.md). Raw values are the snake_case names used in reports, events and the API.
package enum RunStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accepted durably, not started yet.
    case queued
    case running
    /// Waiting only on a human (a manual task) or a timer; nothing is held in memory.
    case waiting
    /// Held by an operator (`runs pause`), a breakpoint or a step: it starts no new activity; what
    /// runs finishes and timers keep their times (docs/operations.md).
    case paused
    case completed
    case failed
    /// Undoing completed activities after a failure, a timeout or a cancellation.
    case compensating
    case compensated
    case compensationFailed = "compensation_failed"
    case timedOut = "timed_out"
    case cancelled
    /// Stopped by an operator; never compensates.
    case terminated

    /// A final state: the run never changes again.
    package var isTerminal: Bool {
        switch self {
        case .queued, .running, .waiting, .paused, .compensating: false
        case .completed, .failed, .compensated, .compensationFailed, .timedOut, .cancelled, .terminated: true
        }
    }

    package var description: String { rawValue }
}

/// The state of one activity of a run (docs/workflow-format.md).
package enum ActivityStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pending
    /// Its dependencies are satisfied and its input is rendered; an attempt is about to start.
    case scheduled
    /// Attempt n runs.
    case running
    /// Between attempts, until the stored next-attempt time.
    case backoff
    /// On a manual task, a child run or a durable timer.
    case waiting
    case completed
    case completedViaFallback = "completed_via_fallback"
    case failed
    case skipped
    case cancelled

    /// Finished, one way or another.
    package var isTerminal: Bool {
        switch self {
        case .pending, .scheduled, .running, .backoff, .waiting: false
        case .completed, .completedViaFallback, .failed, .skipped, .cancelled: true
        }
    }

    /// Lets dependents start: completed (by itself or a fallback) or skipped.
    package var satisfiesDependents: Bool {
        self == .completed || self == .completedViaFallback || self == .skipped
    }

    /// Running or about to run: what a cancellation must stop and wait for.
    package var isInFlight: Bool { self == .scheduled || self == .running || self == .backoff }

    package var description: String { rawValue }
}

/// The state of one compensation (docs/workflow-format.md, docs/cli.md): `pending` ones were planned but never ran
/// (or were interrupted and will run again).
package enum CompensationStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pending, completed, failed
    package var description: String { rawValue }
}

/// The state of a manual task (docs/workflow-format.md).
package enum TaskStatus: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case open, completed, expired, cancelled
    package var description: String { rawValue }
}

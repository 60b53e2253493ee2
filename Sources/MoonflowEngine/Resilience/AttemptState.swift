package import MoonflowModel

/// Where an activity stands between attempts: what the run layer stores so the executor can pick up
/// after a restart (docs/resilience.md, docs/durability.md). It is the fold of the executor's observer callbacks:
///
/// | journal                                    | fold                        |
/// |--------------------------------------------|-----------------------------|
/// | `attemptStarted(at:)`                      | `recordStarted(at:)`        |
/// | `attemptFailed(failure:nextAttemptAt:)`    | `recordFailed(_:nextAttemptAt:)` |
/// | an attempt started and never ended (crash) | `recordInterrupted()` at recovery |
///
/// The run layer folds its journal with these same methods, so stored state and the executor agree.
package struct AttemptState: Sendable, Hashable {
    /// Attempts that ended in failure or rejection; they count against `max_attempts`.
    package var attemptsUsed: Int
    /// Attempts interrupted by a crash (`WorkerCrashed`); they do not count against `max_attempts`.
    package var interruptions: Int
    /// When the next attempt may start (the stored backoff); `nil` or past: at once.
    package var nextAttemptAt: Timestamp?
    /// Start of the first attempt: `total_timeout` is measured from here.
    package var firstStartedAt: Timestamp?

    package init(attemptsUsed: Int = 0, interruptions: Int = 0, nextAttemptAt: Timestamp? = nil, firstStartedAt: Timestamp? = nil) {
        self.attemptsUsed = attemptsUsed
        self.interruptions = interruptions
        self.nextAttemptAt = nextAttemptAt
        self.firstStartedAt = firstStartedAt
    }

    /// The number the next attempt carries (1-based). Interrupted attempts keep their numbers, so
    /// the attempt after a crash of attempt n is n + 1 (docs/durability.md), though it does not use up an attempt.
    package var nextAttemptNumber: Int { attemptsUsed + interruptions + 1 }

    /// An attempt entered the policy stack at `at`.
    package mutating func recordStarted(at: Timestamp) {
        if firstStartedAt == nil { firstStartedAt = at }
        nextAttemptAt = nil
    }

    /// An attempt ended in `failure`. A `WorkerCrashed` failure is an interruption, not a used attempt.
    package mutating func recordFailed(_ failure: ActivityFailure, nextAttemptAt: Timestamp?) {
        if failure.type.isInterruption { interruptions += 1 } else { attemptsUsed += 1 }
        self.nextAttemptAt = nextAttemptAt
    }

    /// Recovery found an attempt that started and never ended: the process died under it.
    package mutating func recordInterrupted() {
        interruptions += 1
        nextAttemptAt = nil
    }
}

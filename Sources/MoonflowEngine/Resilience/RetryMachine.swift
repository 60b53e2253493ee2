package import MoonflowModel

/// The retry decisions of docs/resilience.md as pure functions of the policy, the attempt state and the time.
/// It never sleeps: it answers with the absolute time of the next attempt, which the run layer stores.
package struct RetryMachine: Sendable, Hashable {
    package enum Decision: Sendable, Hashable {
        /// Run the next attempt at this instant (now, for an interruption).
        case retry(at: Timestamp)
        /// Stop retrying: the activity fails with this (fallback may still rescue it).
        case giveUp(ActivityFailure)
    }

    package let policy: RetryPolicy
    /// The whole activity's budget, from the first attempt's start.
    package let totalTimeout: Duration?

    /// With no retry block the activity has exactly one attempt.
    package init(policy: RetryPolicy?, totalTimeout: Duration?) {
        self.policy = policy ?? RetryPolicy(maxAttempts: 1)
        self.totalTimeout = totalTimeout
    }

    /// `first + total_timeout`, once the first attempt has started.
    package func totalDeadline(_ state: AttemptState) -> Timestamp? {
        guard let totalTimeout, let first = state.firstStartedAt else { return nil }
        return first + totalTimeout
    }

    /// The wait after failed attempt `n` (1-based) before jitter: `min(initial × multiplier^(n-1), max)`.
    package func backoff(afterAttempt n: Int) -> Duration {
        // A quarter of Int64's range (about 73 years) keeps later additions to a Timestamp exact.
        let ceiling = Int64.max / 4
        var raw = Double(policy.initial.nanoseconds)
        var step = 1
        while step < n, raw < Double(ceiling) {
            raw *= policy.multiplier
            step += 1
        }
        var nanos = raw >= Double(ceiling) ? ceiling : Int64(raw)
        if let cap = policy.max { nanos = min(nanos, cap.nanoseconds) }
        return .nanoseconds(max(nanos, 0))
    }

    /// The wait actually used: the backoff, or with full jitter a uniform draw in `[0, backoff]`.
    package func delay(afterAttempt n: Int, random: any RandomSource) -> Duration {
        let base = backoff(afterAttempt: n)
        switch policy.jitter {
        case .none: return base
        case .full: return .nanoseconds(Int64((Double(base.nanoseconds) * random.nextUnit()).rounded(.down)))
        }
    }

    /// Whether a failure of this type may be retried at all (attempts left aside). Order: a raiser's
    /// `retryable = false` and the policy's `non_retryable` always win; then `retry_on`, when set, is
    /// the only list retried (it may name a type not retried by default); otherwise everything but
    /// the defaults of docs/workflow-format.md, a failure not `retriedByDefault` (an HTTP 4xx) and
    /// `ActivityTimeout` (which means the budget is spent) is retried.
    package func isRetryable(_ failure: ActivityFailure) -> Bool {
        if failure.retryable == false || failure.type == .activityTimeout { return false }
        if policy.nonRetryable.contains(failure.type) { return false }
        if let retryOn = policy.retryOn { return retryOn.contains(failure.type) }
        return failure.retriedByDefault && !ErrorType.notRetriedByDefault.contains(failure.type)
    }

    /// Whether an attempt may start now, given the state (after a restart, or after a backoff).
    /// Returns the failure that ends the activity instead, if any.
    package func refusal(toStart state: AttemptState, now: Timestamp) -> ActivityFailure? {
        if state.interruptions >= policy.maxInterruptions {
            return ActivityFailure(
                .workerCrashed, "interrupted \(state.interruptions) times (max_interruptions \(policy.maxInterruptions))")
        }
        if let deadline = totalDeadline(state), now >= deadline { return totalTimeoutFailure() }
        return nil
    }

    /// What to do after the current attempt ended in `failure`. `state` is the state before the
    /// failure is recorded (`state.firstStartedAt` set); `now` is the instant the attempt ended.
    package func decide(after failure: ActivityFailure, state: AttemptState, now: Timestamp, random: any RandomSource)
        -> Decision
    {
        if failure.type.isInterruption {
            var after = state
            after.recordFailed(failure, nextAttemptAt: nil)
            if var refusal = refusal(toStart: after, now: now) {
                // The last interruption names what was interrupted: a worker, or a sandbox helper.
                if refusal.type == .workerCrashed { refusal.type = failure.type }
                return .giveUp(refusal)
            }
            return .retry(at: now)
        }
        guard isRetryable(failure) else { return .giveUp(failure) }
        let used = state.attemptsUsed + 1
        guard used < policy.maxAttempts else { return .giveUp(failure) }
        var next = now + delay(afterAttempt: used, random: random)
        // A service's Retry-After is a floor under the backoff.
        if let after = failure.retryAfter, now + after > next { next = now + after }
        // An attempt starting at the deadline would have no time to run: give up now rather than then.
        if let deadline = totalDeadline(state), next >= deadline { return .giveUp(totalTimeoutFailure()) }
        return .retry(at: next)
    }

    /// `ActivityTimeout`: the whole activity's budget is spent.
    func totalTimeoutFailure() -> ActivityFailure {
        ActivityFailure(.activityTimeout, "total_timeout of \(totalTimeout ?? .zero) exceeded")
    }
}

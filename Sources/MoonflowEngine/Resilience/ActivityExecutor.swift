// The seam between the run layer and the resilience layer.
//
// The run layer hands the executor ONE activity and closures that run its body; the executor applies
// `fallback(retry(circuit_breaker(bulkhead(timeout(body)))))` exactly as docs/resilience.md says and returns
// how the activity ended. It never touches the store: everything worth journaling is reported to the
// `ActivityObserver` as it happens, and `AttemptState` (the fold of those reports) is what the run
// layer stores and passes back as `resumeFrom` after a restart.
//
// Contract, in order of events for one activity:
// 1. If `resumeFrom.nextAttemptAt` is set, the executor sleeps until it (at once if passed).
// 2. Each attempt: `attemptStarted(attempt:at:)` as it enters the policy stack (the first one's `at`
//    is `firstStartedAt`, the origin of `total_timeout`); then the breaker admits or rejects
//    (`CircuitOpen`); then the bulkhead grants a permit or rejects (`BulkheadFull`,
//    `BulkheadTimeout`); the attempt `timeout` (and the breaker's `timeout`) starts at the grant;
//    the body runs; the permit is released; the breaker records the outcome.
// 3. A failed attempt: `attemptFailed(…, nextAttemptAt:)`, with the absolute time of the next
//    attempt, or `nil` when this failure ends the retries. Rejections use up an attempt too.
//    A `WorkerCrashed` failure is an interruption: re-run at once, not counted against `max_attempts`.
// 4. Retries over: `fallbackStarted` when a fallback applies, then the result. `notify: true` is the
//    run layer's business: `fallbackStarted` hands it the `Fallback` that applies (the activity's,
//    or the bulkhead's own when the bulkhead rejected), whose `notify` says whether to emit
//    `activity.fallback`.
// 5. A success: no observer call; the result is `.completed`.
//
// Recovery: fold the journal with `AttemptState.recordStarted/recordFailed`; an attempt started and
// never ended is `recordInterrupted()`. Pass the state as `resumeFrom`.
//
// Policies come from the `Activity` as given: the loader leaves `error_handling.activity_error`'s
// `retry` and `fallback` on the workflow, so the run layer passes an activity whose `retry` and
// `fallback` fall back to those when the activity declares none. Around them all, the engine-wide
// `max_activities` gate (when the executor has one) makes the activity wait its turn (FIFO) before
// its first attempt. Whether any of this applies to an activity is the executor's to say
// (`needsPolicies`, `startsAtOnce`): the run layer runs a body itself only when nothing does.
//
// Cancellation of the calling task: the running body is cancelled and awaited, queue waits are
// left, backoff sleeps end; the result is `.failed(Cancelled)` and no fallback runs.

package import Logging
package import MoonflowModel

/// Runs one body attempt (Lua, built-in, child workflow…); `attempt` is 1-based. It must stop
/// promptly when its task is cancelled (timeouts cancel it and wait for it to end).
package typealias AttemptBody = @Sendable (_ attempt: Int) async throws(ActivityFailure) -> Value

/// Runs a fallback `handler` once; its input is the original input plus `error` (`failure`, and
/// the `attempts` used).
package typealias FallbackBody =
    @Sendable (_ handler: Handler, _ failure: ActivityFailure, _ attempts: Int) async throws(ActivityFailure) -> Value

/// Renders a `{output: template}` fallback, with `error` (`failure`, `attempts`) in scope.
package typealias FallbackOutputEvaluator =
    @Sendable (_ output: ValueTemplate, _ failure: ActivityFailure, _ attempts: Int) async throws(ActivityFailure) -> Value

/// Progress the run layer journals (and stores) as it happens. Each call is awaited before the
/// executor goes on, so a journal write completes before the next step.
package protocol ActivityObserver: Sendable {
    /// Attempt `attempt` entered the policy stack at `at` (before the breaker and the bulkhead).
    func attemptStarted(activity: String, attempt: Int, at: Timestamp) async
    /// Attempt `attempt` ended in `failure`; the next attempt starts at `nextAttemptAt`, or never when `nil`.
    func attemptFailed(activity: String, attempt: Int, failure: ActivityFailure, at: Timestamp, nextAttemptAt: Timestamp?) async
    /// `fallback` takes over after `failure` (retries exhausted, non-retryable, or a bulkhead rejection
    /// with the bulkhead's own fallback).
    func fallbackStarted(activity: String, fallback: Fallback, failure: ActivityFailure, at: Timestamp) async
}

/// How one activity ended.
package enum ActivityExecutionResult: Sendable, Hashable {
    case completed(output: Value, attempts: Int)
    /// A fallback body or `{output}` rescued it (`completed_via_fallback`); `failure` is what it rescued.
    case completedViaFallback(output: Value, attempts: Int, failure: ActivityFailure)
    /// `fallback: skip`: the activity is `skipped` and its dependents run.
    case skippedByFallback(attempts: Int, failure: ActivityFailure)
    /// No fallback, or the fallback failed too (then this is the fallback's failure), or cancelled.
    case failed(ActivityFailure, attempts: Int)
}

/// Applies the resilience policies around one activity (docs/resilience.md). Cheap to copy; the
/// registries it holds are shared by the whole process.
package struct ActivityExecutor: Sendable {
    private let clock: any EngineClock
    private let random: any RandomSource
    private let breakers: CircuitBreakerRegistry
    private let bulkheads: BulkheadRegistry
    /// The engine-wide `concurrency.max_activities` (moonflow.yaml): activities of every run at once.
    private let activityGate: Bulkhead?
    private let logger: Logger

    package init(
        clock: any EngineClock, random: any RandomSource, breakers: CircuitBreakerRegistry, bulkheads: BulkheadRegistry,
        activityGate: Bulkhead? = nil, logger: Logger = Logger(label: "moonflow.resilience")
    ) {
        self.clock = clock
        self.random = random
        self.breakers = breakers
        self.bulkheads = bulkheads
        self.activityGate = activityGate
        self.logger = logger
    }

    /// Whether `execute` does anything for `activity` besides running its body once: a retry, a
    /// fallback, a timeout, a breaker, a bulkhead or the engine-wide activity gate.
    package func needsPolicies(_ activity: Activity) -> Bool {
        activity.retry != nil || activity.fallback != nil || activity.timeout != nil || activity.totalTimeout != nil
            || activity.circuitBreaker != nil || !startsAtOnce(activity)
    }

    /// Whether attempt 1 of a fresh `activity` starts as soon as it is executed: no bulkhead and no
    /// activity gate can hold it back, so its start may be journaled before it is executed.
    package func startsAtOnce(_ activity: Activity) -> Bool {
        activity.bulkhead == nil && activityGate == nil
    }

    /// Applies `fallback(retry(circuit_breaker(bulkhead(timeout(body)))))` exactly as docs/resilience.md,
    /// once the activity gate (if any) gave the activity its turn.
    /// - Parameters:
    ///   - resumeFrom: the stored state after a restart; `nil` for a fresh activity.
    ///   - fallbackBody: runs a fallback handler; when `nil`, a body fallback cannot run and the
    ///     failure stands.
    ///   - evaluateOutput: renders an `{output:}` fallback; when `nil`, only a template that is a
    ///     plain value can be used, and otherwise the failure stands.
    package func execute(
        _ activity: Activity, workflow: String, resumeFrom: AttemptState?, body: @escaping AttemptBody,
        fallbackBody: FallbackBody?, evaluateOutput: FallbackOutputEvaluator?, observer: any ActivityObserver
    ) async -> ActivityExecutionResult {
        guard let activityGate else {
            return await policies(
                activity, workflow: workflow, resumeFrom: resumeFrom, body: body, fallbackBody: fallbackBody,
                evaluateOutput: evaluateOutput, observer: observer)
        }
        do {
            return try await activityGate.withPermit { _ in
                await policies(
                    activity, workflow: workflow, resumeFrom: resumeFrom, body: body, fallbackBody: fallbackBody,
                    evaluateOutput: evaluateOutput, observer: observer)
            }
        } catch {
            // Cancelled while waiting its turn.
            return .failed(error, attempts: resumeFrom?.attemptsUsed ?? 0)
        }
    }

    /// `fallback(retry(circuit_breaker(bulkhead(timeout(body)))))`.
    private func policies(
        _ activity: Activity, workflow: String, resumeFrom: AttemptState?, body: @escaping AttemptBody,
        fallbackBody: FallbackBody?, evaluateOutput: FallbackOutputEvaluator?, observer: any ActivityObserver
    ) async -> ActivityExecutionResult {
        // The activity's metadata is added only to lines that are logged (`Logger.activity`).
        let logger = Logger.ActivityLogger(base: logger, workflow: workflow, activity: activity.name)
        let run = Run(
            clock: clock, random: random, activity: activity, retry: RetryMachine(policy: activity.retry, totalTimeout: activity.totalTimeout),
            breaker: activity.circuitBreaker.map(breakers.breaker(for:)), bulkhead: activity.bulkhead.map(bulkheads.bulkhead(for:)),
            body: body, observer: observer, logger: logger)
        let end = await run.attempts(from: resumeFrom ?? AttemptState())
        switch end {
        case .completed(let output, let attempts):
            return .completed(output: output, attempts: attempts)
        case .cancelled(let failure, let attempts):
            return .failed(failure, attempts: attempts)
        case .failed(let failure, let fallback, let attempts):
            return await rescue(
                failure, with: fallback, activity: activity.name, attempts: attempts, fallbackBody: fallbackBody,
                evaluateOutput: evaluateOutput, observer: observer, logger: logger)
        }
    }

    // MARK: - Fallback

    private func rescue(
        _ failure: ActivityFailure, with fallback: Fallback?, activity: String, attempts: Int, fallbackBody: FallbackBody?,
        evaluateOutput: FallbackOutputEvaluator?, observer: any ActivityObserver, logger: Logger.ActivityLogger
    ) async -> ActivityExecutionResult {
        guard let fallback else { return .failed(failure, attempts: attempts) }
        if Task.isCancelled { return .failed(.callerCancelled, attempts: attempts) }
        await observer.fallbackStarted(activity: activity, fallback: fallback, failure: failure, at: clock.now)
        let outcome: Result<Value, ActivityFailure>
        switch fallback.action {
        case .skip:
            return .skippedByFallback(attempts: attempts, failure: failure)
        case .output(.value(let value)) where evaluateOutput == nil:
            return .completedViaFallback(output: value, attempts: attempts, failure: failure)
        case .output(let template):
            guard let evaluateOutput else {
                logger.logger.error("fallback output needs an evaluator; the failure stands")
                return .failed(failure, attempts: attempts)
            }
            outcome = await bounded(clock: clock, limit: nil) { () async throws(ActivityFailure) -> Value in
                try await evaluateOutput(template, failure, attempts)
            }
        case .body(let handler):
            guard let fallbackBody else {
                logger.logger.error("fallback body needs a runner; the failure stands")
                return .failed(failure, attempts: attempts)
            }
            let limit = handler.timeout.map { (clock.now + $0, ActivityFailure(.timeout, "fallback timed out after \($0)")) }
            outcome = await bounded(clock: clock, limit: limit) { () async throws(ActivityFailure) -> Value in
                try await fallbackBody(handler, failure, attempts)
            }
        }
        if Task.isCancelled { return .failed(.callerCancelled, attempts: attempts) }
        switch outcome {
        case .success(let value): return .completedViaFallback(output: value, attempts: attempts, failure: failure)
        case .failure(let fallbackFailure): return .failed(fallbackFailure, attempts: attempts)
        }
    }

}

// MARK: - Bounded work

/// Runs `work` until it ends or the `limit` deadline comes, which ends it with the limit's failure.
/// At the deadline `work` is cancelled and awaited: it has really stopped when this returns, and its
/// late result is discarded (docs/resilience.md).
private func bounded(
    clock: any EngineClock, limit: (deadline: Timestamp, failure: ActivityFailure)?,
    _ work: @escaping @Sendable () async throws(ActivityFailure) -> Value
) async -> Result<Value, ActivityFailure> {
    // Without a deadline there is nothing to race: run in this task (cancellation reaches it the same way).
    guard let limit else {
        do throws(ActivityFailure) { return .success(try await work()) } catch { return .failure(error) }
    }
    return await withTaskGroup(of: Result<Value, ActivityFailure>?.self) { group in
        group.addTask {
            do throws(ActivityFailure) { return .success(try await work()) } catch { return .failure(error) }
        }
        group.addTask {
            do { try await clock.sleep(until: limit.deadline) } catch { return nil }
            return .failure(limit.failure)
        }
        var first: Result<Value, ActivityFailure>?
        for await end in group {
            guard first == nil, let end else { continue }
            first = end
            group.cancelAll()
        }
        return first ?? .failure(.callerCancelled)
    }
}

extension ActivityFailure {
    /// The calling task was cancelled.
    fileprivate static let callerCancelled = ActivityFailure(.cancelled, "cancelled")
}

// MARK: - The retry loop of one activity

/// One `execute` call: the retry loop around breaker, bulkhead and timeout.
private struct Run {
    enum End {
        case completed(Value, attempts: Int)
        case cancelled(ActivityFailure, attempts: Int)
        /// Retries are over; `fallback` is the one that applies (the activity's, or the bulkhead's own).
        case failed(ActivityFailure, fallback: Fallback?, attempts: Int)
    }

    /// How one attempt ended.
    enum AttemptEnd {
        case success(Value)
        case failure(ActivityFailure)
        /// The bulkhead rejected it and has its own fallback, which applies at once.
        case bulkheadRejected(ActivityFailure, Fallback)
        case cancelled(ActivityFailure)
    }

    let clock: any EngineClock
    let random: any RandomSource
    let activity: Activity
    let retry: RetryMachine
    let breaker: CircuitBreaker?
    let bulkhead: Bulkhead?
    let body: AttemptBody
    let observer: any ActivityObserver
    let logger: Logger.ActivityLogger

    func attempts(from resumed: AttemptState) async -> End {
        var state = resumed
        var attempt = state.nextAttemptNumber - 1
        while true {
            if let next = state.nextAttemptAt {
                do { try await clock.sleep(until: next) } catch {
                    return .cancelled(.callerCancelled, attempts: attempt)
                }
            }
            if Task.isCancelled { return .cancelled(.callerCancelled, attempts: attempt) }
            let startedAt = clock.now
            var started = state
            started.recordStarted(at: startedAt)
            if let refusal = retry.refusal(toStart: started, now: startedAt) {
                return .failed(refusal, fallback: activity.fallback, attempts: attempt)
            }
            state = started
            attempt = state.nextAttemptNumber
            await observer.attemptStarted(activity: activity.name, attempt: attempt, at: startedAt)

            let end = await run(attempt: attempt, totalDeadline: retry.totalDeadline(state))
            let endedAt = clock.now
            let failure: ActivityFailure
            switch end {
            case .success(let value):
                return .completed(value, attempts: attempt)
            case .cancelled(let cancelled):
                await failed(attempt, cancelled, at: endedAt, next: nil)
                return .cancelled(cancelled, attempts: attempt)
            case .bulkheadRejected(let rejection, let fallback):
                await failed(attempt, rejection, at: endedAt, next: nil)
                return .failed(rejection, fallback: fallback, attempts: attempt)
            case .failure(let f):
                failure = f
            }

            switch retry.decide(after: failure, state: state, now: endedAt, random: random) {
            case .retry(let next):
                state.recordFailed(failure, nextAttemptAt: next)
                await failed(attempt, failure, at: endedAt, next: next)
            case .giveUp(let final):
                state.recordFailed(failure, nextAttemptAt: nil)
                await failed(attempt, failure, at: endedAt, next: nil)
                return .failed(final, fallback: activity.fallback, attempts: attempt)
            }
        }
    }

    /// Logs and journals a failed attempt.
    private func failed(_ attempt: Int, _ failure: ActivityFailure, at: Timestamp, next: Timestamp?) async {
        if logger.base.logLevel <= .debug {
            logger.logger.debug(
                "attempt failed",
                metadata: ["attempt": "\(attempt)", "error.type": "\(failure.type)", "next": "\(next.map(\.description) ?? "none")"])
        }
        await observer.attemptFailed(activity: activity.name, attempt: attempt, failure: failure, at: at, nextAttemptAt: next)
    }

    /// One attempt through breaker, bulkhead and timeout.
    private func run(attempt: Int, totalDeadline: Timestamp?) async -> AttemptEnd {
        var ticket: CircuitBreakerMachine.Ticket?
        if let breaker {
            switch breaker.admit() {
            case .rejected(let failure): return .failure(failure)
            case .allowed(let admitted): ticket = admitted
            }
        }
        func settle(_ outcome: CircuitBreakerMachine.Outcome) {
            if let breaker, let ticket { breaker.record(ticket, outcome) }
        }

        var permit: BulkheadPermit?
        if let bulkhead {
            do {
                permit = try await bulkhead.acquire(notAfter: totalDeadline)
            } catch {
                settle(.notCounted)
                if error.type == .cancelled { return .cancelled(error) }
                if error.type == .bulkheadTimeout, let totalDeadline, clock.now >= totalDeadline {
                    return .failure(retry.totalTimeoutFailure())
                }
                if let fallback = activity.bulkhead?.fallback { return .bulkheadRejected(error, fallback) }
                return .failure(error)
            }
        }

        let grantedAt = permit?.grantedAt ?? clock.now
        var limits: [(deadline: Timestamp, failure: ActivityFailure)] = []
        if let timeout = activity.timeout {
            limits.append((grantedAt + timeout, ActivityFailure(.timeout, "attempt \(attempt) timed out after \(timeout)")))
        }
        if let policy = activity.circuitBreaker, let timeout = policy.timeout {
            let failure = ActivityFailure(.timeout, "attempt \(attempt) slower than circuit breaker '\(policy.name)' timeout \(timeout)")
            limits.append((grantedAt + timeout, failure))
        }
        if let totalDeadline { limits.append((totalDeadline, retry.totalTimeoutFailure())) }
        // The earliest limit wins (`min` keeps the first of equals: the attempt's own timeout names a tie).
        let limit = limits.min { $0.deadline < $1.deadline }

        let result = await bounded(clock: clock, limit: limit) { () async throws(ActivityFailure) -> Value in
            try await body(attempt)
        }
        if let permit, let bulkhead { bulkhead.release(permit) }

        switch result {
        case .success(let value):
            settle(.success)
            return .success(value)
        case .failure where Task.isCancelled:
            settle(.notCounted)
            return .cancelled(.callerCancelled)
        case .failure(let failure):
            // The activity's own budget running out says nothing about the dependency.
            settle(failure.type == .activityTimeout ? .notCounted : .failure(failure.type))
            return .failure(failure)
        }
    }
}

extension Logger {
    /// A logger and the activity its lines are about. Setting metadata on a stream handler
    /// re-renders it, which cost ≈ 5% of a trivial step when done on every `execute`: the metadata
    /// is added only when a line is logged.
    struct ActivityLogger: Sendable {
        let base: Logger
        let workflow: String
        let activity: String

        var logger: Logger {
            var logger = base
            logger[metadataKey: "workflow"] = "\(workflow)"
            logger[metadataKey: "activity"] = "\(activity)"
            return logger
        }
    }
}

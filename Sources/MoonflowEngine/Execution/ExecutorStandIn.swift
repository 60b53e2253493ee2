import MoonflowModel

// STAND-IN until the resilience layer (`Resilience/`) lands on main: the seam's types with the
// names it specifies, and a plain executor (attempts back to back, no backoff, breaker, bulkhead
// or timeout). This whole file is deleted at that merge.

typealias AttemptBody = @Sendable (_ attempt: Int) async throws(ActivityFailure) -> Value

protocol ActivityObserver: Sendable {
    func attemptStarted(activity: String, attempt: Int, at: Timestamp) async
    func attemptFailed(activity: String, attempt: Int, failure: ActivityFailure, at: Timestamp, nextAttemptAt: Timestamp?) async
    func fallbackStarted(activity: String, failure: ActivityFailure, at: Timestamp) async
}

struct AttemptState: Sendable, Hashable {
    var attemptsUsed: Int
    var interruptions: Int
    var nextAttemptAt: Timestamp?
    var firstStartedAt: Timestamp?
}

enum ActivityExecutionResult: Sendable, Hashable {
    case completed(output: Value, attempts: Int)
    case completedViaFallback(output: Value, attempts: Int, failure: ActivityFailure)
    case skippedByFallback(attempts: Int, failure: ActivityFailure)
    case failed(ActivityFailure, attempts: Int)
}

struct StandInExecutor: ActivityExecuting {
    let clock: any EngineClock

    func execute(
        _ activity: Activity, workflow: String, resumeFrom: AttemptState?, body: AttemptBody,
        fallbackBody: (@Sendable (ActivityFailure) async throws(ActivityFailure) -> Value)?,
        evaluateOutput: (@Sendable (ValueTemplate, ActivityFailure) async throws(ActivityFailure) -> Value)?,
        observer: any ActivityObserver
    ) async -> ActivityExecutionResult {
        let maxAttempts = (activity.retry?.maxAttempts ?? 1) + (resumeFrom?.interruptions ?? 0)
        var attempt = resumeFrom?.attemptsUsed ?? 0
        var lastFailure = ActivityFailure(.activityError, "no attempt ran")
        while attempt < maxAttempts {
            attempt += 1
            await observer.attemptStarted(activity: activity.name, attempt: attempt, at: clock.now)
            do {
                return .completed(output: try await body(attempt), attempts: attempt)
            } catch {
                lastFailure = Task.isCancelled ? ActivityFailure(.cancelled, "cancelled") : error
                let retry = attempt < maxAttempts && lastFailure.type != .cancelled && lastFailure.retryable != false
                await observer.attemptFailed(
                    activity: activity.name, attempt: attempt, failure: lastFailure, at: clock.now,
                    nextAttemptAt: retry ? clock.now : nil)
                if !retry { break }
            }
        }
        guard let fallback = activity.fallback, lastFailure.type != .cancelled else {
            return .failed(lastFailure, attempts: attempt)
        }
        await observer.fallbackStarted(activity: activity.name, failure: lastFailure, at: clock.now)
        do {
            switch fallback.action {
            case .skip: return .skippedByFallback(attempts: attempt, failure: lastFailure)
            case .body:
                guard let fallbackBody else { return .failed(lastFailure, attempts: attempt) }
                return .completedViaFallback(output: try await fallbackBody(lastFailure), attempts: attempt, failure: lastFailure)
            case .output(let template):
                guard let evaluateOutput else { return .failed(lastFailure, attempts: attempt) }
                return .completedViaFallback(
                    output: try await evaluateOutput(template, lastFailure), attempts: attempt, failure: lastFailure)
            }
        } catch {
            return .failed(error, attempts: attempt)
        }
    }
}

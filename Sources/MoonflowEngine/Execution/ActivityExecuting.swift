import MoonflowModel

/// The resilience layer as the engine sees it: runs one activity's attempts under its policies
/// (SPEC §5.3: fallback, retry, breaker, bulkhead, timeout) and reports each transition to the observer.
protocol ActivityExecuting: Sendable {
    func execute(
        _ activity: Activity, workflow: String, resumeFrom: AttemptState?, body: AttemptBody,
        fallbackBody: (@Sendable (ActivityFailure) async throws(ActivityFailure) -> Value)?,
        evaluateOutput: (@Sendable (ValueTemplate, ActivityFailure) async throws(ActivityFailure) -> Value)?,
        observer: any ActivityObserver
    ) async -> ActivityExecutionResult
}

package import MoonflowModel

/// The spans of runs (moonflow.yaml `tracing`, docs/operations.md): set on the engine only when
/// tracing is enabled, so a disabled engine tests one optional and does nothing else. The engine
/// knows nothing of the tracer behind it (`MoonflowRuntime.OTelRunTracing`).
package protocol RunTracing: Sendable {
    /// Runs one drive of the run in `state` within the run's span: opened by the first drive of the
    /// run in this process, ended by the drive after which the run has ended.
    func drive(_ state: RunState, workflow: Workflow, _ body: () async throws -> RunStatus) async throws -> RunStatus

    /// Runs one attempt of a body (an activity's, a compensation's or a fallback's) within a span
    /// that is a child of the run's. `body` gets the requests it makes: `http` within the attempt's
    /// span (a child span per request, the W3C `traceparent` sent), `nil` when `http` is.
    func attempt(
        _ attempt: TracedAttempt, http: (any HTTPCalling)?,
        _ body: ((any HTTPCalling)?) async throws(ActivityFailure) -> ScriptOutcome
    ) async throws(ActivityFailure) -> ScriptOutcome
}

/// What an attempt's span says: names and numbers, never inputs, outputs or secrets.
package struct TracedAttempt: Sendable {
    package enum Kind: String, Sendable {
        case activity, compensation, fallback
    }

    package var kind: Kind
    package var runID: RunID
    package var workflow: String
    package var version: String?
    package var activity: String
    package var attempt: Int
}

import Logging
import MoonflowModel
import OrderedCollections
import Synchronization

/// What a body sees besides its input (docs/sandbox.md).
struct BodyContext: Sendable {
    var role: BodyRole
    var runID: RunID
    var workflow: String
    var version: String?
    var activity: String
    var context: OrderedDictionary<String, Value>
    var steps: Value
    var event: Value?
    var timeout: Duration?
    var limits: LimitOverrides

    /// `<run id>:<activity>`, then `:compensate` for a compensation: scripts see it, and what
    /// they do with it is stored elsewhere, so its form never changes.
    var idempotencyKey: String {
        switch role {
        case .activity: "\(runID):\(activity)"
        case .compensation: "\(runID):\(activity):compensate"
        }
    }

    func activityValue(attempt: Int) -> Value {
        [
            "name": .string(activity), "attempt": .int(Int64(attempt)), "idempotency_key": .string(idempotencyKey),
            "run": ["id": .string(runID), "workflow": .string(workflow), "version": version.map(Value.string) ?? .null],
        ]
    }
}

extension DriverEnvironment {
    /// Runs one attempt of a Lua or built-in body. Emitting one of the engine's own event types is
    /// refused: it could fake a transition to subscribers.
    /// A code action's `log.*` entries are logged as it runs and kept in `logs` for the journal.
    /// `stop` interrupts a script run in the caller's own task (`RunDriver.runInPlace`).
    /// With tracing on, the attempt runs within a span of its own (`RunTracing.attempt`; `fallback`:
    /// this is a fallback's body) and its requests within child spans; off, nothing more is done.
    func runBody(
        _ body: ActivityBody, input: Value, attempt: Int, context: BodyContext, logs: ScriptLogBuffer? = nil, stop: ScriptStop? = nil,
        fallback: Bool = false
    ) async throws(ActivityFailure) -> ScriptOutcome {
        guard let tracing else {
            return try await runBody(body, input: input, attempt: attempt, context: context, logs: logs, stop: stop, http: http)
        }
        let kind: TracedAttempt.Kind =
            fallback ? .fallback : context.role == .compensation ? .compensation : .activity
        let traced = TracedAttempt(
            kind: kind, runID: context.runID, workflow: context.workflow, version: context.version, activity: context.activity,
            attempt: attempt)
        return try await tracing.attempt(traced, http: http) { http throws(ActivityFailure) in
            try await runBody(body, input: input, attempt: attempt, context: context, logs: logs, stop: stop, http: http)
        }
    }

    /// `runBody` with the requests made through `http` (the attempt's span's, when traced).
    private func runBody(
        _ body: ActivityBody, input: Value, attempt: Int, context: BodyContext, logs: ScriptLogBuffer?, stop: ScriptStop?,
        http: (any HTTPCalling)?
    ) async throws(ActivityFailure) -> ScriptOutcome {
        let moment =
            switch context.role {
            case .activity: "activity_body"
            case .compensation: "compensation_body"
            }
        failpoints.reach(.during, moment, activity: context.activity)
        let outcome: ScriptOutcome
        switch body {
        case .lua(let chunk):
            var limits = context.limits.applied(to: scriptLimits)
            limits.timeout = context.timeout ?? scriptLimits.timeout
            var invocation = ScriptInvocation(
                chunk: chunk, input: input, context: context.context, steps: context.steps,
                activity: context.activityValue(attempt: attempt), event: context.event, limits: limits, role: context.role,
                logSink: scriptLogSink(context, attempt: attempt, buffer: logs), http: http)
            invocation.stop = stop
            // An activity's attempts are recorded for `runs replay` (a compensation's are not).
            if context.role == .activity, let logs { invocation.recordingSink = { logs.record($0) } }
            outcome = try await runner.run(invocation)
        case .builtin(let builtin):
            // The key is built only by a request: most built-ins make none.
            outcome = try await Builtins.run(builtin, input: input, clock: clock) { [http] request throws(ActivityFailure) in
                try await Self.callHTTP(request, idempotencyKey: context.idempotencyKey, through: http)
            } logger: { [logger] in
                logger.run(context.runID, workflow: context.workflow, activity: context.activity)
            }
        case .manual, .workflow:
            throw ActivityFailure(
                .activityError, "a \(body.displayName) body can only be an activity's own body", retryable: false)
        }
        if let reserved = outcome.events.first(where: { EventType($0.type).isReserved }) {
            throw ActivityFailure(.sandboxViolation, "event type '\(reserved.type)' is reserved for the engine", retryable: false)
        }
        return outcome
    }
}

extension DriverEnvironment {
    /// `call: http`: the response of a 2xx, an `HttpError` for any other status (docs/integrations.md).
    /// Every attempt sends the activity's idempotency key, so a retry or a recovery repeats it.
    static func callHTTP(_ input: Value, idempotencyKey: String, through http: (any HTTPCalling)?) async throws(ActivityFailure) -> Value {
        guard let http else {
            throw ActivityFailure(.activityError, "call: http needs moonflow.yaml's connections, and this engine has none", retryable: false)
        }
        let request = try HTTPCall(input, idempotencyKey: idempotencyKey, parseDuration: DurationText.parse)
        let response = try await http.call(request)
        if let failure = response.failure(method: request.method, path: request.path) { throw failure }
        return response.value
    }
}

/// The outcome of the attempt that succeeded (its context writes and emitted events are committed
/// with the completion; a failed attempt's never are), and of the fallback body if it ran.
private final class OutcomeBox: Sendable {
    private let outcomes = Mutex<[Int: ScriptOutcome]>([:])
    /// Where a fallback body's outcome is kept.
    static let fallback = 0

    func store(_ outcome: ScriptOutcome, attempt: Int) { outcomes.withLock { $0[attempt] = outcome } }
    func outcome(attempt: Int) -> ScriptOutcome? { outcomes.withLock { $0[attempt] } }
}

/// One activity (or compensation) executed through the resilience layer in a child task of the
/// driver; everything it learns goes to the driver's mailbox.
struct ActivityExecution: Sendable {
    let environment: DriverEnvironment
    let workflow: String
    /// With the workflow defaults applied (retry, fallback).
    let activity: Activity
    let input: Value
    let context: BodyContext
    /// The expression scope, for a fallback's `with` and `output` (plus `error`).
    let scope: Value
    let mailbox: AsyncStream<DriverMessage>.Continuation
    /// The driver committed `activity.started` of attempt 1 with `activity.scheduled`: the
    /// executor's report of it needs no round trip through the mailbox.
    var firstAttemptJournaled = false

    func run(resumeFrom: AttemptState?) async {
        let outcomes = OutcomeBox()
        let (environment, activity, input, context, scope) = (environment, activity, input, context, scope)
        let mailbox = mailbox
        // An attempt's log entries go to the driver before how it ended (`attemptFailed`, `finished`).
        let flush: @Sendable (ScriptLogBuffer, Int) -> Void = { logs, attempt in
            let trace = logs.drain()
            if !trace.isEmpty { mailbox.yield(.scriptLogs(activity: activity.name, attempt: attempt, trace: trace)) }
        }
        let body: AttemptBody = { attempt throws(ActivityFailure) in
            let logs = ScriptLogBuffer()
            defer { flush(logs, attempt) }
            let outcome = try await environment.runBody(activity.body, input: input, attempt: attempt, context: context, logs: logs)
            try environment.validator.check(outcome.output, against: activity.outputSchema, what: "the output of '\(activity.name)'")
            outcomes.store(outcome, attempt: attempt)
            return outcome.output
        }
        // The handler comes from the executor: the activity's fallback or its bulkhead's.
        let fallbackBody: FallbackBody = { handler, failure, attempts throws(ActivityFailure) in
            let logs = ScriptLogBuffer()
            defer { flush(logs, 1) }
            let outcome = try await environment.runHandler(
                handler, input: input, error: failure.errorValue(attempts: attempts), scope: scope, context: context, attempt: 1, logs: logs)
            outcomes.store(outcome, attempt: OutcomeBox.fallback)
            return outcome.output
        }
        let evaluateOutput: FallbackOutputEvaluator = {
            template, failure, attempts throws(ActivityFailure) in
            try await environment.runner.evaluate(template, scope: scope.adding("error", failure.errorValue(attempts: attempts)))
        }
        // A breaker transition this execution's call causes goes to the run (its history), not
        // straight to the bus; when the driver is gone, to the bus.
        let cause = CircuitCause(runID: context.runID, workflow: workflow) { [mailbox, name = activity.name] transition in
            if case .terminated = mailbox.yield(.circuitTransition(activity: name, transition: transition)) { return false }
            return true
        }
        let result = await CircuitCause.$current.withValue(cause) { [workflow, mailbox, firstAttemptJournaled] in
            await environment.executor.execute(
                activity, workflow: workflow, resumeFrom: resumeFrom, body: body, fallbackBody: fallbackBody,
                evaluateOutput: evaluateOutput,
                observer: MailboxObserver(mailbox: mailbox, firstAttemptJournaled: firstAttemptJournaled))
        }
        let outcome: ScriptOutcome? =
            switch result {
            case .completed(_, let attempts): outcomes.outcome(attempt: attempts)
            case .completedViaFallback: outcomes.outcome(attempt: OutcomeBox.fallback)
            case .skippedByFallback, .failed: nil
            }
        mailbox.yield(.finished(activity: activity.name, result: result, outcome: outcome))
    }
}

extension DriverEnvironment {
    /// Runs a fallback body once: its input is its `with` (which sees `error`), or the original
    /// input plus `error` (docs/workflow-format.md).
    func runHandler(
        _ handler: Handler, input: Value, error: Value, scope: Value, context: BodyContext, attempt: Int,
        logs: ScriptLogBuffer? = nil
    ) async throws(ActivityFailure) -> ScriptOutcome {
        let handlerInput: Value
        if let with = handler.with {
            handlerInput = try await runner.evaluate(with, scope: scope.adding("error", error))
        } else {
            handlerInput = input.objectValue != nil ? input.adding("error", error) : ["input": input, "error": error]
        }
        var context = context
        context.timeout = handler.timeout ?? context.timeout
        return try await runBody(handler.body, input: handlerInput, attempt: attempt, context: context, logs: logs, fallback: true)
    }
}

/// Reports attempts to the driver and waits until it has committed them, so an attempt is in the
/// journal before its body runs.
struct MailboxObserver: ActivityObserver {
    let mailbox: AsyncStream<DriverMessage>.Continuation
    var firstAttemptJournaled = false

    func attemptStarted(activity: String, attempt: Int, at: Timestamp) async {
        if attempt == 1, firstAttemptJournaled { return }
        await send { .attemptStarted(activity: activity, attempt: attempt, at: at, ack: $0) }
    }

    func attemptFailed(activity: String, attempt: Int, failure: ActivityFailure, at: Timestamp, nextAttemptAt: Timestamp?) async {
        await send {
            .attemptFailed(activity: activity, attempt: attempt, failure: failure, nextAttemptAt: nextAttemptAt, ack: $0)
        }
    }

    func fallbackStarted(activity: String, fallback: Fallback, failure: ActivityFailure, at: Timestamp) async {
        await send { .fallbackStarted(activity: activity, failure: failure, notify: fallback.notify, ack: $0) }
    }

    private func send(_ message: (CheckedContinuation<Void, Never>) -> DriverMessage) async {
        await withCheckedContinuation { ack in
            if case .terminated = mailbox.yield(message(ack)) { ack.resume() }
        }
    }
}

extension ActivityFailure {
    /// `error` as expressions and handler inputs see it (docs/expressions.md): the failure and the attempts used.
    func errorValue(attempts: Int) -> Value { toValue().adding("attempts", .int(Int64(attempts))) }
}

extension Value {
    /// This object with one more member (a non-object is returned unchanged).
    func adding(_ key: String, _ value: Value) -> Value {
        guard var object = objectValue else { return self }
        object[key] = value
        return .object(object)
    }
}

extension ActivityBody {
    /// The entries of `steps` this body can read: a built-in, a task or a child run reads none.
    var stepsUse: StepsUse {
        if case .lua(let chunk) = self { chunk.stepsUse } else { .none }
    }
}

extension Fallback {
    /// The entries of `steps` a fallback body can read.
    var stepsUse: StepsUse {
        if case .body(let handler) = action { handler.body.stepsUse } else { .none }
    }
}

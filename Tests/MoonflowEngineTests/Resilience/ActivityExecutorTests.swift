import MoonflowEngine
import MoonflowModel
import Synchronization
import Testing

/// One executor over a manual clock, with the pieces tests look at.
private struct ExecutorHarness {
    let clock = ManualClock()
    let transitions = EventLog()
    let breakers: CircuitBreakerRegistry
    let bulkheads: BulkheadRegistry
    let executor: ActivityExecutor
    let observer: RecordingObserver
    let origin: Timestamp

    init() {
        origin = clock.now
        let transitions = transitions
        breakers = CircuitBreakerRegistry(clock: clock) { transitions.append($0.eventType) }
        bulkheads = BulkheadRegistry(clock: clock)
        executor = ActivityExecutor(clock: clock, random: SeededRandomSource(seed: 7), breakers: breakers, bulkheads: bulkheads)
        observer = RecordingObserver(origin: origin)
    }

    func at(_ millis: Int64) -> Timestamp { origin + .milliseconds(millis) }

    func start(
        _ activity: Activity, resumeFrom: AttemptState? = nil, body: @escaping AttemptBody,
        fallbackBody: FallbackBody? = nil, evaluateOutput: FallbackOutputEvaluator? = nil
    ) -> Task<ActivityExecutionResult, Never> {
        let (executor, observer) = (executor, observer)
        return Task {
            await executor.execute(
                activity, workflow: "wf", resumeFrom: resumeFrom, body: body, fallbackBody: fallbackBody,
                evaluateOutput: evaluateOutput, observer: observer)
        }
    }

    /// Once `sleepers` tasks sleep and the earliest wakes at `millis`, moves time there.
    func advance(to millis: Int64, sleepers: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        let target = at(millis)
        await waitUntil("\(sleepers) sleepers, next at \(millis)ms", sourceLocation: sourceLocation) {
            clock.sleeperCount == sleepers && clock.nextDeadline == target
        }
        clock.advance(to: target)
    }

    /// A body that logs its start, then waits (an hour) until cancelled, logs its stop and fails.
    func hangingBody(_ log: EventLog) -> AttemptBody {
        let clock = clock
        return { attempt throws(ActivityFailure) in
            log.append("start \(attempt)")
            do { try await clock.sleep(until: clock.now + .seconds(3600)) } catch {
                // Stopping takes a moment; the next attempt must still wait for it.
                for _ in 0..<10 { await Task.yield() }
                log.append("stop \(attempt)")
                throw ActivityFailure(.cancelled, "stopped")
            }
            return .string("slow")
        }
    }
}

/// A body that fails with `failures` in turn, then succeeds with `"ok"`; counts its runs.
private final class ScriptedBody: Sendable {
    private let state: Mutex<(runs: Int, failures: [ActivityFailure])>
    init(_ failures: [ActivityFailure]) { state = Mutex((0, failures)) }
    convenience init(failing times: Int, with type: ErrorType = .activityError) {
        self.init(Array(repeating: ActivityFailure(type, "boom"), count: times))
    }
    var runs: Int { state.withLock { $0.runs } }

    var body: AttemptBody {
        { _ throws(ActivityFailure) in
            let failure: ActivityFailure? = self.state.withLock { s in
                s.runs += 1
                return s.failures.isEmpty ? nil : s.failures.removeFirst()
            }
            if let failure { throw failure }
            return .string("ok")
        }
    }
}

@Suite("Activity executor (docs/resilience.md)")
struct ActivityExecutorTests {
    let boom = ActivityFailure(.activityError, "boom")

    @Test("a first-attempt success completes with one attempt and one observer call")
    func success() async {
        let h = ExecutorHarness()
        let result = await h.start(Activity(name: "a", body: .builtin(.noop)), body: ScriptedBody(failing: 0).body).value
        #expect(result == .completed(output: .string("ok"), attempts: 1))
        #expect(h.observer.events == ["started 1 @0ms"])
    }

    @Test("retries at exact absolute times, then succeeds")
    func retryTiming() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 3))
        let body = ScriptedBody(failing: 2)
        let task = h.start(activity, body: body.body)
        await h.advance(to: 1000, sleepers: 1)
        await h.advance(to: 3000, sleepers: 1)
        #expect(await task.value == .completed(output: .string("ok"), attempts: 3))
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 ActivityError @0ms next 1000ms",
            "started 2 @1000ms", "failed 2 ActivityError @1000ms next 3000ms",
            "started 3 @3000ms",
        ])
    }

    @Test("a timed-out attempt has really stopped before the next one starts")
    func timeoutStopsBody() async {
        let h = ExecutorHarness()
        let log = EventLog()
        let activity = Activity(name: "a", body: .builtin(.noop), timeout: .seconds(5), retry: RetryPolicy(maxAttempts: 2))
        let task = h.start(activity, body: h.hangingBody(log))
        await h.advance(to: 5000, sleepers: 2)
        await h.advance(to: 6000, sleepers: 1)
        // Attempt 2 hangs too; its own timeout fires 5s after it started.
        await h.advance(to: 11000, sleepers: 2)
        guard case .failed(let failure, attempts: 2) = await task.value else {
            Issue.record("expected a failure after two attempts")
            return
        }
        #expect(failure.type == .timeout)
        #expect(log.all == ["start 1", "stop 1", "start 2", "stop 2"])
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 Timeout @5000ms next 6000ms", "started 2 @6000ms", "failed 2 Timeout @11000ms next -",
        ])
    }

    @Test("a result that arrives after the timeout is discarded, and the executor waits for the body to end")
    func lateResultDiscarded() async {
        let h = ExecutorHarness()
        let release = Shared(false)
        let finished = Shared(false)
        let stubborn: AttemptBody = { _ throws(ActivityFailure) in
            // Ignores cancellation, like a body stuck in C code.
            while !release.withLock({ $0 }) { await Task.yield() }
            return .string("late")
        }
        let activity = Activity(name: "a", body: .builtin(.noop), timeout: .seconds(1))
        let executor = h.executor
        let observer = h.observer
        let task = Task {
            let result = await executor.execute(
                activity, workflow: "wf", resumeFrom: nil, body: stubborn, fallbackBody: nil, evaluateOutput: nil, observer: observer)
            finished.withLock { $0 = true }
            return result
        }
        await h.advance(to: 1000, sleepers: 1)
        for _ in 0..<1000 { await Task.yield() }
        #expect(!finished.withLock { $0 })
        release.withLock { $0 = true }
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected the timeout to stand")
            return
        }
        #expect(failure.type == .timeout)
    }

    @Test("an open breaker rejects attempts without running the body, and each rejection uses an attempt")
    func breakerRejectionsUseAttempts() async {
        let h = ExecutorHarness()
        let activity = Activity(
            name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 3),
            circuitBreaker: CircuitBreakerPolicy(name: "crm", threshold: 1, reset: .seconds(60)))
        let body = ScriptedBody(failing: 10)
        let task = h.start(activity, body: body.body)
        await h.advance(to: 1000, sleepers: 1)
        await h.advance(to: 3000, sleepers: 1)
        guard case .failed(let failure, attempts: 3) = await task.value else {
            Issue.record("expected a failure after three attempts")
            return
        }
        #expect(failure.type == .circuitOpen)
        #expect(body.runs == 1)
        #expect(h.transitions.all == ["circuit.opened"])
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 ActivityError @0ms next 1000ms",
            "started 2 @1000ms", "failed 2 CircuitOpen @1000ms next 3000ms",
            "started 3 @3000ms", "failed 3 CircuitOpen @3000ms next -",
        ])
    }

    @Test("a bulkhead rejection uses an attempt and is not a breaker failure")
    func bulkheadRejection() async throws {
        let h = ExecutorHarness()
        let bulkheadPolicy = BulkheadPolicy(name: "crm", maxConcurrent: 1, maxQueueSize: 0)
        let activity = Activity(
            name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 2),
            circuitBreaker: CircuitBreakerPolicy(name: "crm", threshold: 1, reset: .seconds(60)), bulkhead: bulkheadPolicy)
        let held = try await h.bulkheads.bulkhead(for: bulkheadPolicy).acquire()
        let body = ScriptedBody(failing: 0)
        let task = h.start(activity, body: body.body)
        await h.advance(to: 1000, sleepers: 1)
        guard case .failed(let failure, attempts: 2) = await task.value else {
            Issue.record("expected a failure after two attempts")
            return
        }
        #expect(failure.type == .bulkheadFull)
        #expect(body.runs == 0)
        #expect(h.breakers.snapshot(named: "crm")?.state == .closed)
        #expect(h.breakers.snapshot(named: "crm")?.consecutiveFailures == 0)
        h.bulkheads.bulkhead(for: bulkheadPolicy).release(held)
    }

    @Test("a bulkhead wait ends with BulkheadTimeout at its timeout, or with ActivityTimeout at the total budget")
    func bulkheadWaits() async throws {
        let h = ExecutorHarness()
        let policy = BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5, timeout: .seconds(2))
        let bulkhead = h.bulkheads.bulkhead(for: policy)
        let held = try await bulkhead.acquire()
        let activity = Activity(
            name: "a", body: .builtin(.noop), totalTimeout: .seconds(4), retry: RetryPolicy(maxAttempts: 5), bulkhead: policy)
        let task = h.start(activity, body: ScriptedBody(failing: 0).body)
        await h.advance(to: 2000, sleepers: 1)
        await h.advance(to: 3000, sleepers: 1)
        // Attempt 2 would wait until 5s, but the activity's budget ends at 4s.
        await h.advance(to: 4000, sleepers: 1)
        guard case .failed(let failure, attempts: 2) = await task.value else {
            Issue.record("expected ActivityTimeout")
            return
        }
        #expect(failure.type == .activityTimeout)
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 BulkheadTimeout @2000ms next 3000ms", "started 2 @3000ms", "failed 2 ActivityTimeout @4000ms next -",
        ])
        #expect(bulkhead.snapshot().queued == 0)
        bulkhead.release(held)
    }

    @Test("the attempt timeout starts when the permit is granted, and the permit is released between attempts")
    func timeoutFromPermit() async throws {
        let h = ExecutorHarness()
        let log = EventLog()
        let bulkheadPolicy = BulkheadPolicy(name: "db", maxConcurrent: 1, maxQueueSize: 5)
        let bulkhead = h.bulkheads.bulkhead(for: bulkheadPolicy)
        let activity = Activity(
            name: "a", body: .builtin(.noop), timeout: .seconds(5), retry: RetryPolicy(maxAttempts: 2), bulkhead: bulkheadPolicy)
        let held = try await bulkhead.acquire()
        let task = h.start(activity, body: h.hangingBody(log))
        await waitUntil("queued") { bulkhead.snapshot().queued == 1 }
        h.clock.advance(to: h.at(3000))
        bulkhead.release(held)
        await h.advance(to: 8000, sleepers: 2)
        await waitUntil("in backoff") { h.clock.nextDeadline == h.at(9000) }
        #expect(bulkhead.snapshot().inUse == 0)
        await h.advance(to: 9000, sleepers: 1)
        await h.advance(to: 14000, sleepers: 2)
        _ = await task.value
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 Timeout @8000ms next 9000ms", "started 2 @9000ms", "failed 2 Timeout @14000ms next -",
        ])
        #expect(bulkhead.snapshot().inUse == 0)
    }

    @Test("the breaker's timeout aborts a slower call and records it as a failure")
    func breakerTimeout() async {
        let h = ExecutorHarness()
        let log = EventLog()
        let activity = Activity(
            name: "a", body: .builtin(.noop), timeout: .seconds(10),
            circuitBreaker: CircuitBreakerPolicy(name: "crm", threshold: 1, timeout: .seconds(2), reset: .seconds(60)))
        let task = h.start(activity, body: h.hangingBody(log))
        await h.advance(to: 2000, sleepers: 2)
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.type == .timeout)
        #expect(log.all == ["start 1", "stop 1"])
        #expect(h.breakers.snapshot(named: "crm")?.state == .open)
    }

    @Test("an activity needs its policies exactly when one applies; a bulkhead or the activity gate may hold attempt 1 back")
    func whichActivitiesNeedPolicies() {
        let h = ExecutorHarness()
        let bare = Activity(name: "a", body: .builtin(.noop))
        #expect(!h.executor.needsPolicies(bare))
        #expect(h.executor.startsAtOnce(bare))
        let bulkheaded = Activity(name: "a", body: .builtin(.noop), bulkhead: BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 0))
        let policed = [
            Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy()),
            Activity(name: "a", body: .builtin(.noop), fallback: Fallback(.skip)),
            Activity(name: "a", body: .builtin(.noop), timeout: .seconds(1)),
            Activity(name: "a", body: .builtin(.noop), totalTimeout: .seconds(1)),
            Activity(name: "a", body: .builtin(.noop), circuitBreaker: CircuitBreakerPolicy(name: "crm", threshold: 1, reset: .seconds(60))),
            bulkheaded,
        ]
        for activity in policed { #expect(h.executor.needsPolicies(activity)) }
        #expect(policed.filter { !h.executor.startsAtOnce($0) } == [bulkheaded])
        let gated = ActivityExecutor(
            clock: h.clock, random: SeededRandomSource(seed: 7), breakers: h.breakers, bulkheads: h.bulkheads,
            activityGate: .activityGate(maxActivities: 1, clock: h.clock))
        #expect(gated.needsPolicies(bare))
        #expect(!gated.startsAtOnce(bare))
    }

    @Test("fallback runs once after retries are exhausted, with the last failure")
    func fallbackAfterExhaustion() async {
        let h = ExecutorHarness()
        let handler = Handler(body: .builtin(.noop))
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 2), fallback: Fallback(.body(handler)))
        let calls = EventLog()
        let fallbackBody: FallbackBody = { h, failure, _ throws(ActivityFailure) in
            calls.append("\(h.body) \(failure.type)")
            return .string("degraded")
        }
        let task = h.start(activity, body: ScriptedBody(failing: 5).body, fallbackBody: fallbackBody)
        await h.advance(to: 1000, sleepers: 1)
        #expect(await task.value == .completedViaFallback(output: .string("degraded"), attempts: 2, failure: boom))
        #expect(calls.all == ["builtin(noop) ActivityError"])
        #expect(h.observer.events.last == "fallback ActivityError @1000ms")
    }

    @Test("a non-retryable failure goes straight to the fallback", arguments: [
        ActivityFailure(.sandboxViolation, "io"), ActivityFailure(.activityError, "bad input", retryable: false),
    ])
    func nonRetryableToFallback(_ failure: ActivityFailure) async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 5), fallback: Fallback(.skip, notify: true))
        let result = await h.start(activity, body: ScriptedBody([failure]).body).value
        #expect(result == .skippedByFallback(attempts: 1, failure: failure))
        #expect(h.observer.events == ["started 1 @0ms", "failed 1 \(failure.type) @0ms next -", "fallback \(failure.type) @0ms"])
    }

    @Test("an {output} fallback is rendered by the evaluator, or used as is when it is a plain value")
    func outputFallback() async {
        let h = ExecutorHarness()
        let template = ValueTemplate.object(["status": .value(.string("degraded"))])
        let activity = Activity(name: "a", body: .builtin(.noop), fallback: Fallback(.output(template)))
        let evaluator: FallbackOutputEvaluator = { t, failure, _ throws(ActivityFailure) in
            #expect(t == template)
            return .object(["status": .string("degraded"), "error": .string(failure.type.rawValue)])
        }
        let rendered = await h.start(activity, body: ScriptedBody(failing: 1).body, evaluateOutput: evaluator).value
        #expect(rendered == .completedViaFallback(
            output: .object(["status": .string("degraded"), "error": .string("ActivityError")]), attempts: 1, failure: boom))

        let plain = Activity(name: "b", body: .builtin(.noop), fallback: Fallback(.output(.value(.int(0)))))
        #expect(await h.start(plain, body: ScriptedBody(failing: 1).body).value
            == .completedViaFallback(output: .int(0), attempts: 1, failure: boom))
    }

    @Test("a failing fallback body fails the activity with the fallback's failure")
    func failingFallback() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), fallback: Fallback(.body(Handler(body: .builtin(.fail)))))
        let broken = ActivityFailure("FallbackBroken", "no")
        let fallbackBody: FallbackBody = { _, _, _ throws(ActivityFailure) in throw broken }
        #expect(await h.start(activity, body: ScriptedBody(failing: 1).body, fallbackBody: fallbackBody).value
            == .failed(broken, attempts: 1))
    }

    @Test("the bulkhead's own fallback applies at once when the bulkhead rejects")
    func bulkheadFallback() async throws {
        let h = ExecutorHarness()
        let policy = BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 0, fallback: Fallback(.output(.value(.string("busy")))))
        let held = try await h.bulkheads.bulkhead(for: policy).acquire()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 3), bulkhead: policy)
        guard case .completedViaFallback(.string("busy"), attempts: 1, let failure) = await h.start(activity, body: ScriptedBody(failing: 0).body).value else {
            Issue.record("expected the bulkhead fallback")
            return
        }
        #expect(failure.type == .bulkheadFull)
        h.bulkheads.bulkhead(for: policy).release(held)
    }

    @Test("total_timeout: gives up with ActivityTimeout as soon as the next attempt would start too late")
    func totalTimeoutBetweenAttempts() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), totalTimeout: .seconds(4), retry: RetryPolicy(maxAttempts: 10))
        let task = h.start(activity, body: ScriptedBody(failing: 10).body)
        await h.advance(to: 1000, sleepers: 1)
        // Attempt 2 fails at 1s; attempt 3 would start at 3s: allowed. Attempt 3 fails at 3s; the next would be at 7s.
        await h.advance(to: 3000, sleepers: 1)
        guard case .failed(let failure, attempts: 3) = await task.value else {
            Issue.record("expected ActivityTimeout after three attempts")
            return
        }
        #expect(failure.type == .activityTimeout)
        #expect(h.clock.now == h.at(3000))
    }

    @Test("total_timeout cuts a running attempt short")
    func totalTimeoutDuringAttempt() async {
        let h = ExecutorHarness()
        let log = EventLog()
        let activity = Activity(name: "a", body: .builtin(.noop), timeout: .seconds(10), totalTimeout: .seconds(2), retry: RetryPolicy())
        let task = h.start(activity, body: h.hangingBody(log))
        await h.advance(to: 2000, sleepers: 2)
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected ActivityTimeout")
            return
        }
        #expect(failure.type == .activityTimeout)
        #expect(log.all == ["start 1", "stop 1"])
    }

    @Test("cancellation while the body runs: the body stops, the result is Cancelled, no fallback")
    func cancelDuringBody() async {
        let h = ExecutorHarness()
        let log = EventLog()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 5), fallback: Fallback(.skip))
        let task = h.start(activity, body: h.hangingBody(log))
        await waitForSleepers(h.clock, 1)
        task.cancel()
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected Cancelled")
            return
        }
        #expect(failure.type == .cancelled)
        #expect(log.all == ["start 1", "stop 1"])
        #expect(!h.observer.events.contains { $0.hasPrefix("fallback") })
    }

    @Test("cancellation during the backoff ends at once with Cancelled")
    func cancelDuringBackoff() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 3))
        let task = h.start(activity, body: ScriptedBody(failing: 5).body)
        await waitForSleepers(h.clock, 1)
        task.cancel()
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected Cancelled")
            return
        }
        #expect(failure.type == .cancelled)
    }

    @Test("cancellation while queued in the bulkhead leaves the queue")
    func cancelWhileQueued() async throws {
        let h = ExecutorHarness()
        let policy = BulkheadPolicy(name: "b", maxConcurrent: 1, maxQueueSize: 5)
        let bulkhead = h.bulkheads.bulkhead(for: policy)
        let held = try await bulkhead.acquire()
        let activity = Activity(name: "a", body: .builtin(.noop), bulkhead: policy)
        let task = h.start(activity, body: ScriptedBody(failing: 0).body)
        await waitUntil("queued") { bulkhead.snapshot().queued == 1 }
        task.cancel()
        guard case .failed(let failure, attempts: 1) = await task.value else {
            Issue.record("expected Cancelled")
            return
        }
        #expect(failure.type == .cancelled)
        #expect(bulkhead.snapshot() == BulkheadSnapshot(name: "b", maxConcurrent: 1, maxQueueSize: 5, inUse: 1, queued: 0))
        bulkhead.release(held)
    }

    @Test("resuming waits until the stored next-attempt time and keeps the attempt count")
    func resume() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 3))
        let stored = AttemptState(attemptsUsed: 2, nextAttemptAt: h.at(4000), firstStartedAt: h.at(-3000))
        let task = h.start(activity, resumeFrom: stored, body: ScriptedBody(failing: 1).body)
        await h.advance(to: 4000, sleepers: 1)
        // The third attempt is the last one.
        guard case .failed(_, attempts: 3) = await task.value else {
            Issue.record("expected the last attempt to fail")
            return
        }
        #expect(h.observer.events == ["started 3 @4000ms", "failed 3 ActivityError @4000ms next -"])
    }

    @Test("an interrupted attempt re-runs at once without using an attempt; the max_interruptions-th fails with WorkerCrashed")
    func interruptions() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 1, maxInterruptions: 3))
        var recovered = AttemptState(firstStartedAt: h.at(0))
        recovered.recordInterrupted()
        #expect(await h.start(activity, resumeFrom: recovered, body: ScriptedBody(failing: 0).body).value
            == .completed(output: .string("ok"), attempts: 2))

        recovered.recordInterrupted()
        recovered.recordInterrupted()
        let body = ScriptedBody(failing: 0)
        guard case .failed(let failure, attempts: 3) = await h.start(activity, resumeFrom: recovered, body: body.body).value else {
            Issue.record("expected WorkerCrashed")
            return
        }
        #expect(failure.type == .workerCrashed)
        #expect(body.runs == 0)
    }

    @Test("a body reporting WorkerCrashed is re-run at once and does not use up an attempt")
    func crashedBody() async {
        let h = ExecutorHarness()
        let activity = Activity(name: "a", body: .builtin(.noop), retry: RetryPolicy(maxAttempts: 1))
        let body = ScriptedBody(failing: 2, with: .workerCrashed)
        #expect(await h.start(activity, body: body.body).value == .completed(output: .string("ok"), attempts: 3))
        #expect(h.observer.events == [
            "started 1 @0ms", "failed 1 WorkerCrashed @0ms next 0ms", "started 2 @0ms", "failed 2 WorkerCrashed @0ms next 0ms",
            "started 3 @0ms",
        ])
    }
}

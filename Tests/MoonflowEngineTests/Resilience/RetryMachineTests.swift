import MoonflowEngine
import MoonflowModel
import Testing

@Suite("Retry machine (docs/resilience.md)")
struct RetryMachineTests {
    let failure = ActivityFailure(.activityError, "boom")

    /// A source that always answers the same draw.
    struct FixedRandom: RandomSource {
        var value: Double
        func nextUnit() -> Double { value }
    }

    @Test("no retry block means one attempt")
    func noBlockOneAttempt() {
        let machine = RetryMachine(policy: nil, totalTimeout: nil)
        let state = AttemptState(firstStartedAt: t0)
        #expect(machine.decide(after: failure, state: state, now: t0, random: FixedRandom(value: 0)) == .giveUp(failure))
    }

    @Test("max_attempts counts the first attempt; backoff grows exactly", arguments: [
        (1, Duration.seconds(1)), (2, .seconds(2)), (3, .seconds(4)), (4, .seconds(8)),
    ])
    func exponentialBackoff(failed attempt: Int, wait: Duration) {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 5), totalTimeout: nil)
        let state = AttemptState(attemptsUsed: attempt - 1, firstStartedAt: t0)
        let now = t0 + .seconds(100)
        #expect(machine.decide(after: failure, state: state, now: now, random: FixedRandom(value: 0.5)) == .retry(at: now + wait))
    }

    @Test("a Retry-After is a floor under the backoff, never a ceiling")
    func retryAfterFloor() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 3, initial: .milliseconds(10)), totalTimeout: nil)
        let state = AttemptState(firstStartedAt: t0)
        let later = ActivityFailure(.httpError, "503", retryAfter: .seconds(1))
        #expect(machine.decide(after: later, state: state, now: t0, random: FixedRandom(value: 0)) == .retry(at: t0 + .seconds(1)))
        let sooner = ActivityFailure(.httpError, "503", retryAfter: .milliseconds(1))
        #expect(machine.decide(after: sooner, state: state, now: t0, random: FixedRandom(value: 0)) == .retry(at: t0 + .milliseconds(10)))
        // Past the total deadline it gives up instead of waiting.
        let bounded = RetryMachine(policy: RetryPolicy(maxAttempts: 3), totalTimeout: .milliseconds(500))
        guard case .giveUp(let timedOut) = bounded.decide(after: later, state: state, now: t0, random: FixedRandom(value: 0)) else {
            Issue.record("a Retry-After past the total deadline must give up")
            return
        }
        #expect(timedOut.type == .activityTimeout)
    }

    @Test("a failure not retried by default is retried only when retry_on names it")
    func notRetriedByDefault() {
        let notFound = ActivityFailure(.httpError, "404", retriedByDefault: false)
        let state = AttemptState(firstStartedAt: t0)
        let plain = RetryMachine(policy: RetryPolicy(maxAttempts: 3), totalTimeout: nil)
        #expect(plain.decide(after: notFound, state: state, now: t0, random: FixedRandom(value: 0)) == .giveUp(notFound))
        let named = RetryMachine(policy: RetryPolicy(maxAttempts: 3, retryOn: [.httpError]), totalTimeout: nil)
        #expect(named.decide(after: notFound, state: state, now: t0, random: FixedRandom(value: 0)) == .retry(at: t0 + .seconds(1)))
        let refused = RetryMachine(policy: RetryPolicy(maxAttempts: 3, nonRetryable: [.httpError]), totalTimeout: nil)
        let busy = ActivityFailure(.httpError, "503")
        #expect(refused.decide(after: busy, state: state, now: t0, random: FixedRandom(value: 0)) == .giveUp(busy))
    }

    @Test("the last attempt gives up with its own failure")
    func exhausted() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 3), totalTimeout: nil)
        let state = AttemptState(attemptsUsed: 2, firstStartedAt: t0)
        #expect(machine.decide(after: failure, state: state, now: t0, random: FixedRandom(value: 0)) == .giveUp(failure))
    }

    @Test("max caps the wait", arguments: [(1, 100), (2, 300), (3, 900), (4, 2000), (10, 2000)])
    func maxCap(attempt: Int, millis: Int) {
        let machine = RetryMachine(
            policy: RetryPolicy(maxAttempts: 20, initial: .milliseconds(100), multiplier: 3, max: .seconds(2)), totalTimeout: nil)
        #expect(machine.backoff(afterAttempt: attempt) == .milliseconds(millis))
    }

    @Test("a huge exponent saturates instead of overflowing")
    func saturation() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 500, multiplier: 10), totalTimeout: nil)
        #expect(machine.backoff(afterAttempt: 400) == .nanoseconds(Int64.max / 4))
    }

    @Test("full jitter stays in [0, backoff] and actually varies")
    func jitterBounds() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 10, initial: .seconds(1), jitter: .full), totalTimeout: nil)
        let random = SeededRandomSource(seed: 42)
        let draws = (0..<1000).map { _ in machine.delay(afterAttempt: 3, random: random) }
        #expect(draws.allSatisfy { $0 >= .zero && $0 <= .seconds(4) })
        #expect(Set(draws).count > 990)
        #expect(draws.contains { $0 < .seconds(1) } && draws.contains { $0 > .seconds(3) })
        // The next attempt time is the failure instant plus that draw.
        let again = SeededRandomSource(seed: 42)
        let state = AttemptState(attemptsUsed: 2, firstStartedAt: t0)
        #expect(machine.decide(after: failure, state: state, now: t0, random: again) == .retry(at: t0 + draws[0]))
    }

    @Test("jitter uses the drawn fraction of the capped wait")
    func jitterFraction() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 10, initial: .seconds(10), max: .seconds(15), jitter: .full), totalTimeout: nil)
        #expect(machine.delay(afterAttempt: 2, random: FixedRandom(value: 0.25)) == .milliseconds(3750))
    }

    @Test("retry_on: only these are retried, even types not retried by default")
    func retryOn() {
        let machine = RetryMachine(policy: RetryPolicy(retryOn: ["Http503", .sandboxViolation]), totalTimeout: nil)
        #expect(machine.isRetryable(ActivityFailure("Http503", "")))
        #expect(machine.isRetryable(ActivityFailure(.sandboxViolation, "")))
        #expect(!machine.isRetryable(ActivityFailure(.activityError, "")))
        #expect(!machine.isRetryable(ActivityFailure(.timeout, "")))
    }

    @Test("non_retryable, retryable = false and the defaults are never retried", arguments: [
        ActivityFailure("Fatal", ""), ActivityFailure(.activityError, "", retryable: false),
        ActivityFailure(.sandboxViolation, ""), ActivityFailure(.schemaInvalid, ""), ActivityFailure(.cancelled, ""),
        ActivityFailure(.activityTimeout, ""),
    ])
    func neverRetried(_ failure: ActivityFailure) {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 5, nonRetryable: ["Fatal"]), totalTimeout: nil)
        let state = AttemptState(firstStartedAt: t0)
        #expect(machine.decide(after: failure, state: state, now: t0, random: FixedRandom(value: 0)) == .giveUp(failure))
    }

    @Test("non_retryable wins over retry_on; retryable = false wins over both")
    func precedence() {
        let machine = RetryMachine(policy: RetryPolicy(retryOn: ["A", "B"], nonRetryable: ["A"]), totalTimeout: nil)
        #expect(!machine.isRetryable(ActivityFailure("A", "")))
        #expect(machine.isRetryable(ActivityFailure("B", "")))
        #expect(!machine.isRetryable(ActivityFailure("B", "", retryable: false)))
    }

    @Test("rejections use attempts and are retried like any failure", arguments: [ErrorType.circuitOpen, .bulkheadFull, .bulkheadTimeout, .timeout])
    func rejectionsRetried(_ type: ErrorType) {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 2), totalTimeout: nil)
        let state = AttemptState(firstStartedAt: t0)
        #expect(machine.decide(after: ActivityFailure(type, ""), state: state, now: t0, random: FixedRandom(value: 0)) == .retry(at: t0 + .seconds(1)))
    }

    @Test("total_timeout: a next attempt at or after the deadline gives up now with ActivityTimeout")
    func totalTimeout() {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 10), totalTimeout: .seconds(10))
        let state = AttemptState(attemptsUsed: 2, firstStartedAt: t0)
        // Attempt 3 failed: the wait is 4s. Ending at 5.999s the retry is at 9.999s: allowed.
        #expect(machine.decide(after: failure, state: state, now: t0 + .milliseconds(5999), random: FixedRandom(value: 0))
            == .retry(at: t0 + .milliseconds(9999)))
        // Ending at 6s, the retry would be exactly at the deadline: give up.
        guard case .giveUp(let final) = machine.decide(after: failure, state: state, now: t0 + .seconds(6), random: FixedRandom(value: 0)) else {
            Issue.record("expected to give up")
            return
        }
        #expect(final.type == .activityTimeout)
    }

    @Test("an attempt may not start once the budget is spent")
    func refusalAtDeadline() {
        let machine = RetryMachine(policy: RetryPolicy(), totalTimeout: .seconds(10))
        let state = AttemptState(attemptsUsed: 1, firstStartedAt: t0)
        #expect(machine.refusal(toStart: state, now: t0 + .seconds(10) - .nanoseconds(1)) == nil)
        #expect(machine.refusal(toStart: state, now: t0 + .seconds(10))?.type == .activityTimeout)
    }

    @Test("WorkerCrashed and SandboxCrashed re-run at once without using an attempt, until max_interruptions",
          arguments: [ErrorType.workerCrashed, .sandboxCrashed])
    func interruptions(_ type: ErrorType) {
        let machine = RetryMachine(policy: RetryPolicy(maxAttempts: 1, maxInterruptions: 3), totalTimeout: nil)
        let crash = ActivityFailure(type, "worker died")
        var state = AttemptState(firstStartedAt: t0)
        for _ in 1...2 {
            #expect(machine.decide(after: crash, state: state, now: t0, random: FixedRandom(value: 0)) == .retry(at: t0))
            state.recordFailed(crash, nextAttemptAt: t0)
        }
        #expect(state.attemptsUsed == 0 && state.interruptions == 2 && state.nextAttemptNumber == 3)
        guard case .giveUp(let final) = machine.decide(after: crash, state: state, now: t0, random: FixedRandom(value: 0)) else {
            Issue.record("expected to give up")
            return
        }
        #expect(final.type == type)
    }

    @Test("after a restart the stored interruptions count: the third one fails instead of running")
    func interruptionsAcrossRestarts() {
        let machine = RetryMachine(policy: RetryPolicy(), totalTimeout: nil)
        var state = AttemptState(attemptsUsed: 1, interruptions: 2, firstStartedAt: t0)
        #expect(machine.refusal(toStart: state, now: t0) == nil)
        state.recordInterrupted()
        #expect(machine.refusal(toStart: state, now: t0)?.type == .workerCrashed)
        #expect(state.nextAttemptNumber == 5)
    }
}

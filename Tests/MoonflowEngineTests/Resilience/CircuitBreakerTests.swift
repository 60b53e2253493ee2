import MoonflowEngine
import MoonflowModel
import Testing

@Suite("Circuit breaker (docs/resilience.md)")
struct CircuitBreakerTests {
    typealias Machine = CircuitBreakerMachine

    /// Admits a call at `now`, expecting it to be allowed.
    func allowed(_ machine: inout Machine, at now: Timestamp, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Machine.Ticket? {
        let (admission, _) = machine.admit(now: now)
        guard case .allowed(let ticket) = admission else {
            Issue.record("expected the call to be allowed", sourceLocation: sourceLocation)
            return nil
        }
        return ticket
    }

    func isRejected(_ machine: inout Machine, at now: Timestamp) -> Bool {
        if case .rejected(let failure) = machine.admit(now: now).0 { return failure.type == .circuitOpen }
        return false
    }

    /// Runs `count` calls at `now` that all end with `outcome`; returns the transitions.
    func calls(_ machine: inout Machine, _ count: Int, _ outcome: Machine.Outcome, at now: Timestamp) -> [CircuitTransition] {
        (0..<count).flatMap { _ -> [CircuitTransition] in
            guard let ticket = allowed(&machine, at: now) else { return [] }
            return machine.record(ticket, outcome, now: now)
        }
    }

    @Test("threshold consecutive failures open it; a success in between resets the count")
    func countForm() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "crm", threshold: 3, reset: .seconds(30)))
        #expect(calls(&machine, 2, .failure(.activityError), at: t0).isEmpty)
        #expect(calls(&machine, 1, .success, at: t0).isEmpty)
        #expect(calls(&machine, 2, .failure(.activityError), at: t0).isEmpty)
        #expect(machine.state == .closed && machine.snapshot.consecutiveFailures == 2)
        let at = t0 + .seconds(1)
        #expect(calls(&machine, 1, .failure(.timeout), at: at) == [CircuitTransition(breaker: "crm", from: .closed, to: .open, at: at)])
        #expect(machine.snapshot.openedAt == at)
        #expect(isRejected(&machine, at: at))
    }

    @Test("half-open exactly at opened_at + reset, not a nanosecond before")
    func inclusiveReset() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "crm", threshold: 1, reset: .seconds(30)))
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        let boundary = t0 + .seconds(30)
        #expect(isRejected(&machine, at: boundary - .nanoseconds(1)))
        #expect(machine.state == .open)
        let (admission, transitions) = machine.admit(now: boundary)
        guard case .allowed(let ticket) = admission else {
            Issue.record("the probe must be allowed at the boundary")
            return
        }
        #expect(ticket.isProbe)
        #expect(transitions == [CircuitTransition(breaker: "crm", from: .open, to: .halfOpen, at: boundary)])
        #expect(transitions.map(\.eventType) == ["circuit.half_open"])
    }

    @Test("half-open admits half_open_max_calls probes and rejects the rest; all succeeding closes and clears")
    func probesClose() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 2, reset: .seconds(10), halfOpenMaxCalls: 2))
        _ = calls(&machine, 2, .failure(.activityError), at: t0)
        let later = t0 + .seconds(10)
        guard let p1 = allowed(&machine, at: later), let p2 = allowed(&machine, at: later) else { return }
        #expect(isRejected(&machine, at: later))
        #expect(machine.record(p1, .success, now: later).isEmpty)
        #expect(machine.state == .halfOpen)
        // The slot of a finished probe is not given to a third one: two probes in all.
        #expect(isRejected(&machine, at: later))
        let closed = machine.record(p2, .success, now: later + .seconds(1))
        #expect(closed.map(\.eventType) == ["circuit.closed"])
        #expect(machine.snapshot == CircuitBreakerSnapshot(
            name: "b", state: .closed, consecutiveFailures: 0, windowCalls: 0, windowFailures: 0, openedAt: nil,
            probesInFlight: 0, probesSucceeded: 0))
        // Counts were cleared: one failure does not re-open a threshold-2 breaker.
        #expect(calls(&machine, 1, .failure(.activityError), at: later + .seconds(2)).isEmpty)
    }

    @Test("one failed probe re-opens it with a new opened_at; the other probe's late result is ignored")
    func failedProbeReopens() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 1, reset: .seconds(10), halfOpenMaxCalls: 2))
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        let later = t0 + .seconds(12)
        guard let p1 = allowed(&machine, at: later), let p2 = allowed(&machine, at: later) else { return }
        let reopened = machine.record(p1, .failure(.timeout), now: later + .seconds(1))
        #expect(reopened == [CircuitTransition(breaker: "b", from: .halfOpen, to: .open, at: later + .seconds(1))])
        #expect(machine.record(p2, .success, now: later + .seconds(2)).isEmpty)
        #expect(machine.state == .open && machine.snapshot.openedAt == later + .seconds(1))
        #expect(isRejected(&machine, at: later + .seconds(11) - .nanoseconds(1)))
        #expect(allowed(&machine, at: later + .seconds(11)) != nil)
    }

    @Test("a probe that ends without a verdict frees its slot")
    func uncountedProbe() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 1, reset: .seconds(1)))
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        guard let probe = allowed(&machine, at: t0 + .seconds(1)) else { return }
        #expect(isRejected(&machine, at: t0 + .seconds(1)))
        #expect(machine.record(probe, .notCounted, now: t0 + .seconds(1)).isEmpty)
        #expect(allowed(&machine, at: t0 + .seconds(1))?.isProbe == true)
    }

    @Test("ignored types count for nothing, in closed and half-open states")
    func ignoreList() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 2, reset: .seconds(1), ignore: ["NotFound"]))
        #expect(calls(&machine, 5, .failure("NotFound"), at: t0).isEmpty)
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        _ = calls(&machine, 1, .failure("NotFound"), at: t0)
        #expect(machine.snapshot.consecutiveFailures == 1)
        #expect(calls(&machine, 1, .failure(.activityError), at: t0).map(\.to) == [.open])
        guard let probe = allowed(&machine, at: t0 + .seconds(1)) else { return }
        #expect(machine.record(probe, .failure("NotFound"), now: t0 + .seconds(1)).isEmpty)
        #expect(machine.state == .halfOpen)
    }

    @Test("rate form: opens when the failure share over the window reaches the rate, after minimum_calls")
    func rateForm() {
        let rate = CircuitBreakerPolicy.Rate(failureRate: 0.5, window: 4, minimumCalls: 4)
        var machine = Machine(policy: CircuitBreakerPolicy(name: "r", threshold: nil, rate: rate, reset: .seconds(5)))
        // Three failures: below minimum_calls, stays closed.
        #expect(calls(&machine, 3, .failure(.activityError), at: t0).isEmpty)
        #expect(machine.snapshot.windowCalls == 3)
        // Fourth call a success: 3 of 4 failed ≥ 50% → opens.
        #expect(calls(&machine, 1, .success, at: t0).map(\.to) == [.open])
    }

    @Test("rate form: the window slides; a rate below the threshold keeps it closed")
    func rateWindowSlides() {
        let rate = CircuitBreakerPolicy.Rate(failureRate: 0.75, window: 4, minimumCalls: 2)
        var machine = Machine(policy: CircuitBreakerPolicy(name: "r", threshold: nil, rate: rate, reset: .seconds(5)))
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        _ = calls(&machine, 1, .success, at: t0)  // 1/2
        _ = calls(&machine, 1, .success, at: t0)  // 1/3
        _ = calls(&machine, 1, .failure(.activityError), at: t0)  // 2/4
        _ = calls(&machine, 1, .failure(.activityError), at: t0)  // window [S,S,F,F]: 2/4
        #expect(machine.state == .closed)
        #expect(machine.snapshot.windowCalls == 4 && machine.snapshot.windowFailures == 2)
        // [S,F,F,F]: 3/4 = 75% → opens.
        #expect(calls(&machine, 1, .failure(.activityError), at: t0).map(\.to) == [.open])
    }

    @Test("a result of a call admitted before the breaker opened changes nothing")
    func staleResult() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 1, reset: .seconds(1)))
        guard let slow = allowed(&machine, at: t0) else { return }
        _ = calls(&machine, 1, .failure(.activityError), at: t0)
        _ = machine.advance(to: t0 + .seconds(1))
        #expect(machine.record(slow, .success, now: t0 + .seconds(1)).isEmpty)
        #expect(machine.state == .halfOpen && machine.snapshot.probesSucceeded == 0)
    }

    @Test("a policy change keeps the state and counts")
    func updateKeepsState() {
        var machine = Machine(policy: CircuitBreakerPolicy(name: "b", threshold: 3, reset: .seconds(10)))
        _ = calls(&machine, 2, .failure(.activityError), at: t0)
        machine.update(policy: CircuitBreakerPolicy(name: "b", threshold: 5, reset: .seconds(60)))
        #expect(machine.snapshot.consecutiveFailures == 2)
        #expect(calls(&machine, 2, .failure(.activityError), at: t0).isEmpty)
        #expect(calls(&machine, 1, .failure(.activityError), at: t0).map(\.to) == [.open])
        #expect(isRejected(&machine, at: t0 + .seconds(59)))
    }

    // MARK: - Registry

    @Test("the registry shares breakers by name, reports transitions and keeps state across a reload")
    func registry() {
        let clock = ManualClock()
        let seen = Shared<[String]>([])
        let registry = CircuitBreakerRegistry(clock: clock) { t in seen.withLock { $0.append("\(t.breaker) \(t.eventType)") } }
        let v1 = CircuitBreakerPolicy(name: "crm", threshold: 2, reset: .seconds(30))
        let a = registry.breaker(for: v1)
        let b = registry.breaker(for: v1)
        #expect(a === b)
        for breaker in [a, b] {
            guard case .allowed(let ticket) = breaker.admit() else { return }
            breaker.record(ticket, .failure(.activityError))
        }
        #expect(seen.withLock { $0 } == ["crm circuit.opened"])
        // A reload with other settings: same breaker, still open, new reset applies.
        let v2 = CircuitBreakerPolicy(name: "crm", threshold: 2, reset: .seconds(60))
        let reloaded = registry.breaker(for: v2)
        #expect(reloaded === a)
        clock.advance(by: .seconds(30))
        #expect(registry.snapshot(named: "crm")?.state == .open)
        clock.advance(by: .seconds(30))
        #expect(registry.snapshots().map(\.state) == [.halfOpen])
        #expect(seen.withLock { $0 } == ["crm circuit.opened", "crm circuit.half_open"])
        _ = registry.breaker(for: CircuitBreakerPolicy(name: "another"))
        #expect(registry.snapshots().map(\.name) == ["another", "crm"])
    }
}

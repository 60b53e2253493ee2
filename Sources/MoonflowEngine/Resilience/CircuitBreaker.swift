package import MoonflowModel
import Synchronization

/// Receives every breaker transition; the engine turns them into events and metrics. Called
/// synchronously after the breaker's lock is released, in the order the transitions happened.
package typealias CircuitTransitionHandler = @Sendable (CircuitTransition) -> Void

/// A breaker shared by every caller of one name: `CircuitBreakerMachine` behind a lock, with the
/// time read from the engine clock.
package final class CircuitBreaker: Sendable {
    private let machine: Mutex<CircuitBreakerMachine>
    private let clock: any EngineClock
    private let onTransition: CircuitTransitionHandler

    package init(policy: CircuitBreakerPolicy, clock: any EngineClock, onTransition: @escaping CircuitTransitionHandler) {
        machine = Mutex(CircuitBreakerMachine(policy: policy))
        self.clock = clock
        self.onTransition = onTransition
    }

    package func admit() -> CircuitBreakerMachine.Admission {
        let now = clock.now
        let (admission, transitions) = machine.withLock { $0.admit(now: now) }
        transitions.forEach(onTransition)
        return admission
    }

    package func record(_ ticket: CircuitBreakerMachine.Ticket, _ outcome: CircuitBreakerMachine.Outcome) {
        let now = clock.now
        let transitions = machine.withLock { $0.record(ticket, outcome, now: now) }
        transitions.forEach(onTransition)
    }

    /// The current state; an open breaker whose reset has passed is reported (and moved) half-open.
    package func snapshot() -> CircuitBreakerSnapshot {
        let now = clock.now
        let (snapshot, transitions) = machine.withLock { m in
            let transitions = m.advance(to: now)
            return (m.snapshot, transitions)
        }
        transitions.forEach(onTransition)
        return snapshot
    }

    /// Applies changed settings, keeping the state.
    func update(policy: CircuitBreakerPolicy) {
        machine.withLock { m in
            if m.policy != policy { m.update(policy: policy) }
        }
    }
}

/// Every breaker of the process, by name (docs/resilience.md): all runs, workflows and versions share them.
/// Breakers live in memory only, so after a restart they start closed.
package final class CircuitBreakerRegistry: Sendable {
    private let breakers = Mutex<[String: CircuitBreaker]>([:])
    private let clock: any EngineClock
    private let onTransition: CircuitTransitionHandler

    package init(clock: any EngineClock, onTransition: @escaping CircuitTransitionHandler = { _ in }) {
        self.clock = clock
        self.onTransition = onTransition
    }

    /// The breaker named `policy.name`, created closed on first use. When `policy` carries other
    /// settings than the breaker has (a reload changed them), the breaker takes them and keeps its
    /// state: the settings of the definition that used it last apply.
    package func breaker(for policy: CircuitBreakerPolicy) -> CircuitBreaker {
        let breaker = breakers.withLock { all in
            if let existing = all[policy.name] { return existing }
            let created = CircuitBreaker(policy: policy, clock: clock, onTransition: onTransition)
            all[policy.name] = created
            return created
        }
        breaker.update(policy: policy)
        return breaker
    }

    package func snapshot(named name: String) -> CircuitBreakerSnapshot? {
        breakers.withLock { $0[name] }?.snapshot()
    }

    /// Every breaker, sorted by name.
    package func snapshots() -> [CircuitBreakerSnapshot] {
        breakers.withLock { Array($0.values) }.map { $0.snapshot() }.sorted { $0.name < $1.name }
    }
}

package import MoonflowModel

/// The state of a circuit breaker (docs/resilience.md), named as the API and metrics show it.
package enum CircuitState: String, Sendable, Hashable, CaseIterable {
    case closed
    case open
    case halfOpen = "half_open"
}

/// One state change of a breaker, reported as the event `circuit.<state>` and a metric.
package struct CircuitTransition: Sendable, Hashable {
    package var breaker: String
    package var from: CircuitState
    package var to: CircuitState
    package var at: Timestamp

    package init(breaker: String, from: CircuitState, to: CircuitState, at: Timestamp) {
        self.breaker = breaker
        self.from = from
        self.to = to
        self.at = at
    }

    /// `circuit.opened`, `circuit.half_open` or `circuit.closed`.
    package var eventType: String { EventType.circuit(to).rawValue }
}

/// What monitoring sees of one breaker.
package struct CircuitBreakerSnapshot: Sendable, Hashable {
    package var name: String
    package var state: CircuitState
    /// Consecutive counted failures (count form).
    package var consecutiveFailures: Int
    /// Counted calls and failures in the current window (rate form; empty without one).
    package var windowCalls: Int
    package var windowFailures: Int
    /// When it last opened; kept while half-open, cleared when it closes.
    package var openedAt: Timestamp?
    /// Half-open probes admitted and not yet ended in failure, and those that succeeded.
    package var probesInFlight: Int
    package var probesSucceeded: Int

    package init(
        name: String, state: CircuitState, consecutiveFailures: Int, windowCalls: Int, windowFailures: Int, openedAt: Timestamp?,
        probesInFlight: Int, probesSucceeded: Int
    ) {
        self.name = name
        self.state = state
        self.consecutiveFailures = consecutiveFailures
        self.windowCalls = windowCalls
        self.windowFailures = windowFailures
        self.openedAt = openedAt
        self.probesInFlight = probesInFlight
        self.probesSucceeded = probesSucceeded
    }
}

/// A circuit breaker as a pure state machine: calls ask `admit`, their end is `record`ed with the
/// ticket they were given, time comes in as arguments and transitions come out as values.
///
/// Every state change bumps an epoch carried by the tickets, so the end of a call admitted in an
/// earlier state (a slow closed-state call finishing while half-open, say) changes nothing.
package struct CircuitBreakerMachine: Sendable {
    /// Proof of admission, handed back to `record`.
    package struct Ticket: Sendable, Hashable {
        let epoch: UInt64
        /// A half-open probe.
        package let isProbe: Bool
    }

    package enum Admission: Sendable, Hashable {
        case allowed(Ticket)
        /// `CircuitOpen`: the call must not run.
        case rejected(ActivityFailure)
    }

    package enum Outcome: Sendable, Hashable {
        case success
        /// Counted unless the type is in the policy's `ignore` list.
        case failure(ErrorType)
        /// The call ended without a verdict on the dependency (rejected further in, cancelled):
        /// it frees a probe slot and counts for nothing.
        case notCounted
    }

    private enum Phase: Sendable, Hashable {
        case closed
        case open(since: Timestamp)
        case halfOpen(openedAt: Timestamp, inFlight: Int, succeeded: Int)
    }

    package private(set) var policy: CircuitBreakerPolicy
    private var phase: Phase = .closed
    private var epoch: UInt64 = 0
    private var consecutiveFailures = 0
    /// Recent counted outcomes, oldest first, `true` for a failure; at most `rate.window` long.
    private var window: [Bool] = []

    package init(policy: CircuitBreakerPolicy) { self.policy = policy }

    package var state: CircuitState {
        switch phase {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }

    package var snapshot: CircuitBreakerSnapshot {
        var openedAt: Timestamp?
        var inFlight = 0
        var succeeded = 0
        switch phase {
        case .closed: break
        case .open(let since): openedAt = since
        case .halfOpen(let since, let i, let s): (openedAt, inFlight, succeeded) = (since, i, s)
        }
        return CircuitBreakerSnapshot(
            name: policy.name, state: state, consecutiveFailures: consecutiveFailures, windowCalls: window.count,
            windowFailures: window.count { $0 }, openedAt: openedAt, probesInFlight: inFlight, probesSucceeded: succeeded)
    }

    /// A reload changed the settings: the state and counts stay (docs/resilience.md); the window is trimmed.
    package mutating func update(policy newPolicy: CircuitBreakerPolicy) {
        policy = newPolicy
        trimWindow()
    }

    /// Applies the time-driven transition: open → half-open at `opened_at + reset`, inclusive.
    package mutating func advance(to now: Timestamp) -> [CircuitTransition] {
        guard case .open(let since) = phase, now >= since + policy.reset else { return [] }
        return [move(to: .halfOpen(openedAt: since, inFlight: 0, succeeded: 0), at: now)]
    }

    /// Asks to run one call at `now`.
    package mutating func admit(now: Timestamp) -> (Admission, [CircuitTransition]) {
        let transitions = advance(to: now)
        switch phase {
        case .closed:
            return (.allowed(Ticket(epoch: epoch, isProbe: false)), transitions)
        case .open(let since):
            let failure = ActivityFailure(
                .circuitOpen, "circuit breaker '\(policy.name)' is open until \(since + policy.reset)")
            return (.rejected(failure), transitions)
        case .halfOpen(let since, let inFlight, let succeeded):
            guard inFlight + succeeded < policy.halfOpenMaxCalls else {
                let failure = ActivityFailure(
                    .circuitOpen, "circuit breaker '\(policy.name)' is half-open and its \(policy.halfOpenMaxCalls) probe(s) are taken")
                return (.rejected(failure), transitions)
            }
            phase = .halfOpen(openedAt: since, inFlight: inFlight + 1, succeeded: succeeded)
            return (.allowed(Ticket(epoch: epoch, isProbe: true)), transitions)
        }
    }

    /// Records how an admitted call ended, at `now`.
    package mutating func record(_ ticket: Ticket, _ outcome: Outcome, now: Timestamp) -> [CircuitTransition] {
        guard ticket.epoch == epoch else { return [] }
        var counted = outcome
        if case .failure(let type) = outcome, policy.ignore.contains(type) { counted = .notCounted }
        switch phase {
        case .open:
            return []
        case .closed:
            switch counted {
            case .notCounted: return []
            case .success:
                consecutiveFailures = 0
                appendToWindow(failed: false)
            case .failure:
                consecutiveFailures += 1
                appendToWindow(failed: true)
            }
            // The rate form is judged after every counted call: a success may complete `minimum_calls`.
            return shouldOpen ? [move(to: .open(since: now), at: now)] : []
        case .halfOpen(let since, let inFlight, let succeeded):
            switch counted {
            case .notCounted:
                phase = .halfOpen(openedAt: since, inFlight: inFlight - 1, succeeded: succeeded)
                return []
            case .failure:
                return [move(to: .open(since: now), at: now)]
            case .success:
                guard succeeded + 1 >= policy.halfOpenMaxCalls else {
                    phase = .halfOpen(openedAt: since, inFlight: inFlight - 1, succeeded: succeeded + 1)
                    return []
                }
                consecutiveFailures = 0
                window.removeAll()
                return [move(to: .closed, at: now)]
            }
        }
    }

    /// Count form: `threshold` consecutive failures. Rate form: at least `minimum_calls` in the
    /// window and a failure share reaching `failure_rate`. With both, either one opens it.
    private var shouldOpen: Bool {
        if let threshold = policy.threshold, consecutiveFailures >= threshold { return true }
        if let rate = policy.rate, window.count >= max(rate.minimumCalls, 1) {
            let failures = window.count { $0 }
            return Double(failures) >= rate.failureRate * Double(window.count)
        }
        return false
    }

    private mutating func appendToWindow(failed: Bool) {
        guard policy.rate != nil else { return }
        window.append(failed)
        trimWindow()
    }

    private mutating func trimWindow() {
        guard let size = policy.rate?.window else {
            window.removeAll()
            return
        }
        if window.count > size { window.removeFirst(window.count - size) }
    }

    private mutating func move(to next: Phase, at now: Timestamp) -> CircuitTransition {
        let from = state
        phase = next
        epoch &+= 1
        return CircuitTransition(breaker: policy.name, from: from, to: state, at: now)
    }
}

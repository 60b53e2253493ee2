import Logging
import Metrics
import MoonflowModel

/// The run whose activity is calling through a breaker, set around an execution: a transition
/// that call causes is recorded in that run's history (docs/resilience.md).
struct CircuitCause: Sendable {
    @TaskLocal static var current: CircuitCause?

    let runID: RunID
    let workflow: String
    /// Hands the transition to the run's driver; `false` when no driver takes it any more.
    let record: @Sendable (CircuitTransition) -> Bool
}

extension Engine {
    /// What the default breaker registry does with each transition (docs/resilience.md, docs/api.md): a log line,
    /// the `moonflow_circuit_state` gauge (0 closed, 1 half-open, 2 open), and a `circuit.*` event.
    /// A transition caused by a run's call goes to that run, which journals it and then publishes
    /// it; one caused by the passing of time (open → half-open seen by a read) is published on the
    /// bus with empty `run_id` and `workflow`.
    static func circuitTransitionRecorder(logger: Logger, bus: EventBus) -> CircuitTransitionHandler {
        { transition in
            logger.warning(
                "\(transition.eventType)",
                metadata: [
                    "breaker": .string(transition.breaker), "from": .string(transition.from.rawValue),
                    "to": .string(transition.to.rawValue), "at": .string(transition.at.iso8601),
                ])
            Gauge(label: "moonflow_circuit_state", dimensions: [("breaker", transition.breaker)]).record(transition.to.gaugeLevel)
            let cause = CircuitCause.current
            if let cause, cause.record(transition) { return }
            bus.publish([RunEvent(transition.payload, runID: cause?.runID ?? "", workflow: cause?.workflow ?? "", at: transition.at)])
        }
    }
}

extension CircuitTransition {
    /// The `circuit.*` event of this transition.
    var payload: RunEvent.Payload { .circuit(breaker: breaker, from: from, to: to) }
}

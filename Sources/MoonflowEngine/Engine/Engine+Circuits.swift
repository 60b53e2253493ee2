import Logging
import Metrics

extension Engine {
    /// What the default breaker registry does with each transition (docs/resilience.md, docs/api.md): a log line
    /// and the `moonflow_circuit_state` gauge (0 closed, 1 half-open, 2 open). Breakers are not
    /// owned by a run, so the transition goes to the log and metrics rather than a run's journal.
    static func circuitTransitionRecorder(logger: Logger) -> CircuitTransitionHandler {
        { transition in
            logger.warning(
                "\(transition.eventType)",
                metadata: [
                    "breaker": .string(transition.breaker), "from": .string(transition.from.rawValue),
                    "to": .string(transition.to.rawValue), "at": .string(transition.at.iso8601),
                ])
            Gauge(label: "moonflow_circuit_state", dimensions: [("breaker", transition.breaker)]).record(transition.to.gaugeLevel)
        }
    }
}

/// One metric the process exports on `GET /metrics` (docs/api.md, "Metrics"): the Prometheus
/// backend takes each family's `# HELP` text, and a histogram's buckets, from here.
package struct MetricDescription: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable { case counter, gauge, histogram }

    package var name: String
    package var kind: Kind
    package var labels: [String]
    package var help: String
}

/// Every metric Moonflow records through swift-metrics, with its help text. The engine and the
/// server name their counters, gauges and timers after these entries.
package enum MetricCatalog {
    /// The upper bounds, in seconds, of both duration histograms: from a millisecond (a trivial
    /// Lua step) to seven days (a run that waits on people), so a human task's duration lands in
    /// a bucket of its own size instead of `+Inf`.
    package static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(1800), .seconds(3600), .seconds(7200),
        .seconds(21_600), .seconds(43_200), .seconds(86_400), .seconds(172_800), .seconds(345_600), .seconds(604_800),
    ]

    package static let all: [MetricDescription] = [
        MetricDescription(
            name: "moonflow_runs_total", kind: .counter, labels: ["workflow", "status"],
            help: "Runs that reached a final state, by workflow and final status."),
        MetricDescription(
            name: "moonflow_run_duration_seconds", kind: .histogram, labels: ["workflow", "status"],
            help: "Time from a run's start (or acceptance, if it never started) to its final state."),
        MetricDescription(
            name: "moonflow_activity_attempts_total", kind: .counter, labels: ["workflow", "activity"],
            help: "Activity attempts started, retries included."),
        MetricDescription(
            name: "moonflow_activity_duration_seconds", kind: .histogram, labels: ["workflow", "activity"],
            help: "Time from an activity's start to its completion or final failure, retries and waits included."),
        MetricDescription(
            name: "moonflow_storage_retries_total", kind: .counter, labels: ["kind"],
            help: "Store writes retried after a full disk (kind=full) or a locked database (kind=busy)."),
        MetricDescription(
            name: "moonflow_circuit_state", kind: .gauge, labels: ["breaker"],
            help: "State of a circuit breaker: 0 closed, 1 half-open, 2 open."),
        MetricDescription(
            name: "moonflow_bulkhead_in_use", kind: .gauge, labels: ["bulkhead"],
            help: "Calls a bulkhead lets run at the moment."),
        MetricDescription(
            name: "moonflow_bulkhead_queue_depth", kind: .gauge, labels: ["bulkhead"],
            help: "Calls waiting for a place in a bulkhead."),
        MetricDescription(
            name: "moonflow_queue_depth", kind: .gauge, labels: [],
            help: "Runs accepted and not started yet."),
        MetricDescription(
            name: "moonflow_runs_active", kind: .gauge, labels: ["status"],
            help: "Unfinished runs by status (queued, running, waiting, compensating)."),
        MetricDescription(
            name: "moonflow_run_backlog", kind: .gauge, labels: [],
            help: "Runs started and not yet driven to their end or first wait (limit: server.run_backlog)."),
        MetricDescription(
            name: "moonflow_starts_refused_total", kind: .counter, labels: [],
            help: "Starts (POST /v1/runs, POST /v1/events) refused with 503 because the run backlog was full."),
    ]

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The entry for a swift-metrics label, when it is one of Moonflow's metrics.
    package static func description(of name: String) -> MetricDescription? { byName[name] }
}

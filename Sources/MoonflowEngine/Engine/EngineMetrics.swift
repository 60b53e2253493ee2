import Metrics
import MoonflowModel
import Synchronization

/// What the engine measures as runs progress: the swift-metrics counters and timers of
/// `MetricCatalog` (each created once per label set and kept: creating one goes through
/// swift-metrics' factory, a lock and under Prometheus a registry lookup by name and labels, which
/// was paid for every event of every step), and the last hour of outcomes behind `/v1/monitoring`.
final class EngineMetrics: Sendable {
    private struct Key: Hashable {
        var workflow: String
        /// The activity, or the run status.
        var label: String
    }

    private let attempts = Mutex<[Key: Counter]>([:])
    private let activityDurations = Mutex<[Key: Metrics.Timer]>([:])
    private let runs = Mutex<[Key: Counter]>([:])
    private let runDurations = Mutex<[Key: Metrics.Timer]>([:])
    let window = OutcomeWindow()

    /// `moonflow_activity_attempts_total`.
    func activityStarted(workflow: String, activity: String) {
        attempts.withLock { cache in
            cache.value(for: Key(workflow: workflow, label: activity)) {
                Counter(label: "moonflow_activity_attempts_total", dimensions: [("workflow", workflow), ("activity", activity)])
            }
        }.increment()
    }

    /// `moonflow_activity_duration_seconds`, and the hour's activity figures.
    func activityEnded(workflow: String, activity: String, after duration: Duration, at instant: Timestamp) {
        activityDurations.withLock { cache in
            cache.value(for: Key(workflow: workflow, label: activity)) {
                Metrics.Timer(label: "moonflow_activity_duration_seconds", dimensions: [("workflow", workflow), ("activity", activity)])
            }
        }.recordNanoseconds(duration.nanoseconds)
        window.activityEnded(after: duration, at: instant)
    }

    /// `moonflow_runs_total` and `moonflow_run_duration_seconds` by the status the run ended in,
    /// and the hour's run figures.
    func runEnded(workflow: String, status: RunStatus, after duration: Duration, at instant: Timestamp) {
        let key = Key(workflow: workflow, label: status.rawValue)
        let dimensions = [("workflow", workflow), ("status", status.rawValue)]
        runs.withLock { cache in
            cache.value(for: key) { Counter(label: "moonflow_runs_total", dimensions: dimensions) }
        }.increment()
        runDurations.withLock { cache in
            cache.value(for: key) { Metrics.Timer(label: "moonflow_run_duration_seconds", dimensions: dimensions) }
        }.recordNanoseconds(duration.nanoseconds)
        window.runEnded(status, after: duration, at: instant)
    }
}

extension Dictionary {
    fileprivate mutating func value(for key: Key, _ make: () -> Value) -> Value {
        if let value = self[key] { return value }
        let value = make()
        self[key] = value
        return value
    }
}

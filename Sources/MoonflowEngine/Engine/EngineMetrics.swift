import Metrics
import MoonflowModel
import Synchronization

/// The engine's counters and timers, each created once per label set and kept: creating one goes
/// through swift-metrics' factory (a lock, and under Prometheus a registry lookup by name and
/// labels), which was paid for every event of every step.
final class EngineMetrics: Sendable {
    private struct Key: Hashable {
        var workflow: String
        /// The activity, or the run status.
        var label: String
    }

    private let attempts = Mutex<[Key: Counter]>([:])
    private let durations = Mutex<[Key: Metrics.Timer]>([:])
    private let runs = Mutex<[Key: Counter]>([:])

    /// `moonflow_activity_attempts_total`.
    func attempts(workflow: String, activity: String) -> Counter {
        attempts.withLock { cache in
            cache.value(for: Key(workflow: workflow, label: activity)) {
                Counter(label: "moonflow_activity_attempts_total", dimensions: [("workflow", workflow), ("activity", activity)])
            }
        }
    }

    /// `moonflow_activity_duration_seconds`.
    func duration(workflow: String, activity: String) -> Metrics.Timer {
        durations.withLock { cache in
            cache.value(for: Key(workflow: workflow, label: activity)) {
                Metrics.Timer(label: "moonflow_activity_duration_seconds", dimensions: [("workflow", workflow), ("activity", activity)])
            }
        }
    }

    /// `moonflow_runs_total`, by the status a run ended in.
    func runs(workflow: String, status: RunStatus) -> Counter {
        runs.withLock { cache in
            cache.value(for: Key(workflow: workflow, label: status.rawValue)) {
                Counter(label: "moonflow_runs_total", dimensions: [("workflow", workflow), ("status", status.rawValue)])
            }
        }
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

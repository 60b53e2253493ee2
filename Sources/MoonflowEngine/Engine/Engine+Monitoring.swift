package import MoonflowModel

/// The figures of the monitoring summary (docs/api.md): runs by state, today's outcomes, the last
/// hour's durations, rates and throughput, and the state of the shared breakers and bulkheads.
package struct MonitoringSnapshot: Sendable, Hashable {
    /// Unfinished runs by status (`queued`, `running`, `waiting`, `compensating`).
    package var activeRuns: [RunStatus: Int]
    package var completedToday: Int
    /// Runs that ended today in any other final state (failed, compensated, timed out, cancelled…).
    package var failedToday: Int
    /// Mean start-to-finish time of the runs that ended today, in milliseconds.
    package var averageDurationMs: Double?
    /// Kept by this engine since it started (`OutcomeWindow`), not read from the store.
    package var lastHour: RecentOutcomes
    package var breakers: [CircuitBreakerSnapshot]
    package var bulkheads: [BulkheadSnapshot]
    /// Runs accepted and not started yet.
    package var queueDepth: Int { activeRuns[.queued] ?? 0 }
}

extension Engine {
    /// The monitoring summary; "today" starts at `dayStart` (the caller picks the zone).
    package func monitoring(dayStart: Timestamp) async throws -> MonitoringSnapshot {
        var active: [RunStatus: Int] = [:]
        var completed = 0
        var failed = 0
        var totalDuration: Int64 = 0
        for run in try await store.runs(status: nil) {
            guard run.status.isTerminal else {
                active[run.status, default: 0] += 1
                continue
            }
            guard let finished = run.finishedAt, finished >= dayStart else { continue }
            if run.status == .completed { completed += 1 } else { failed += 1 }
            totalDuration += (finished - (run.startedAt ?? run.queuedAt)).nanoseconds
        }
        let ended = completed + failed
        return MonitoringSnapshot(
            activeRuns: active, completedToday: completed, failedToday: failed,
            averageDurationMs: ended == 0 ? nil : Double(totalDuration) / Double(ended) / 1e6,
            lastHour: metrics.window.lastHour(at: clock.now),
            breakers: breakers.snapshots(), bulkheads: bulkheads.snapshots())
    }

    /// Runs a restarted process must pick up: accepted, running or compensating when it stopped.
    /// Waiting runs need nothing until their timer fires or their task is completed.
    package func runsToRecover() async throws -> [RunID] {
        try await store.runs(status: [.queued, .running, .compensating]).map(\.id)
    }

    /// The earliest durable timer of any unfinished run, when there is one: a timer service
    /// sleeps until then (or until it is told of a newer timer).
    package func earliestTimer(before horizon: Timestamp) async throws -> Timestamp? {
        try await store.dueTimers(at: horizon).first?.timer.at
    }
}

extension CircuitState {
    /// The value of the `moonflow_circuit_state` gauge (docs/api.md): 0 closed, 1 half-open, 2 open.
    package var gaugeLevel: Double {
        switch self {
        case .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }
}

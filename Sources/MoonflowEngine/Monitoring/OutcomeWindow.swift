import MoonflowModel
import Synchronization

/// p50, p95 and p99 of some durations (docs/api.md, "Monitoring").
package struct DurationPercentiles: Sendable, Hashable {
    package var p50: Duration
    package var p95: Duration
    package var p99: Duration
}

/// What ended in the last hour (`last_hour` of `/v1/monitoring`, docs/api.md).
package struct RecentOutcomes: Sendable, Hashable {
    /// One hour.
    package static let window = Duration.nanoseconds(OutcomeWindow.slotNanoseconds * Int64(OutcomeWindow.slotCount))

    /// Runs that reached a final state.
    package var runsEnded = 0
    package var runsCompleted = 0
    /// Runs that ended `failed`, `timed_out`, `compensated` or `compensation_failed`; runs an
    /// operator cancelled or terminated count as neither a success nor an error.
    package var runsErrored = 0
    /// Activities that completed or failed for good (each counted once, whatever its attempts).
    package var activitiesEnded = 0
    var runSketch = DurationSketch()
    var activitySketch = DurationSketch()

    package var runDurations: DurationPercentiles? { Self.percentiles(runSketch) }
    package var activityDurations: DurationPercentiles? { Self.percentiles(activitySketch) }
    /// `runsCompleted / runsEnded`, `nil` when no run ended.
    package var successRate: Double? { runsEnded == 0 ? nil : Double(runsCompleted) / Double(runsEnded) }
    /// `runsErrored / runsEnded`, `nil` when no run ended.
    package var errorRate: Double? { runsEnded == 0 ? nil : Double(runsErrored) / Double(runsEnded) }
    package var runsPerMinute: Double { Double(runsEnded) / Double(OutcomeWindow.slotCount) }
    package var activitiesPerMinute: Double { Double(activitiesEnded) / Double(OutcomeWindow.slotCount) }

    mutating func merge(_ other: RecentOutcomes) {
        runsEnded += other.runsEnded
        runsCompleted += other.runsCompleted
        runsErrored += other.runsErrored
        activitiesEnded += other.activitiesEnded
        runSketch.merge(other.runSketch)
        activitySketch.merge(other.activitySketch)
    }

    private static func percentiles(_ sketch: DurationSketch) -> DurationPercentiles? {
        guard let p50 = sketch.percentile(0.5), let p95 = sketch.percentile(0.95), let p99 = sketch.percentile(0.99) else { return nil }
        return DurationPercentiles(p50: p50, p95: p95, p99: p99)
    }
}

/// The outcomes of the last hour in bounded memory: sixty one-minute slots in a ring, each with
/// its counts and a `DurationSketch` of run and of activity durations. The hour is the current
/// minute and the 59 before it (by the engine's clock); a slot is reused once its minute has left
/// it. Kept in memory only: a restarted engine starts with an empty hour.
final class OutcomeWindow: Sendable {
    static let slotCount = 60
    static let slotNanoseconds: Int64 = 60_000_000_000

    private struct Slot {
        var minute: Int64
        var outcomes = RecentOutcomes()
    }

    private let slots = Mutex<[Slot?]>(Array(repeating: nil, count: OutcomeWindow.slotCount))

    func runEnded(_ status: RunStatus, after duration: Duration, at instant: Timestamp) {
        update(at: instant) { outcomes in
            outcomes.runsEnded += 1
            switch status {
            case .completed: outcomes.runsCompleted += 1
            case .failed, .timedOut, .compensated, .compensationFailed: outcomes.runsErrored += 1
            case .queued, .running, .waiting, .paused, .compensating, .cancelled, .terminated: break
            }
            outcomes.runSketch.record(duration)
        }
    }

    func activityEnded(after duration: Duration, at instant: Timestamp) {
        update(at: instant) { outcomes in
            outcomes.activitiesEnded += 1
            outcomes.activitySketch.record(duration)
        }
    }

    /// The hour ending at `now`.
    func lastHour(at now: Timestamp) -> RecentOutcomes {
        let current = Self.minute(of: now)
        return slots.withLock { slots in
            var total = RecentOutcomes()
            for case let slot? in slots where slot.minute <= current && slot.minute > current - Int64(Self.slotCount) {
                total.merge(slot.outcomes)
            }
            return total
        }
    }

    private func update(at instant: Timestamp, _ change: (inout RecentOutcomes) -> Void) {
        let minute = Self.minute(of: instant)
        let index = Int(minute % Int64(Self.slotCount) + Int64(Self.slotCount)) % Self.slotCount
        slots.withLock { slots in
            if let held = slots[index]?.minute, held > minute { return }  // older than the hour the slot holds
            if slots[index]?.minute != minute { slots[index] = Slot(minute: minute) }
            change(&slots[index]!.outcomes)
        }
    }

    private static func minute(of instant: Timestamp) -> Int64 {
        let nanoseconds = instant.nanosecondsSinceEpoch
        let quotient = nanoseconds / slotNanoseconds
        return nanoseconds % slotNanoseconds < 0 ? quotient - 1 : quotient
    }
}

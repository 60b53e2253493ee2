import MoonflowModel
import Testing

@testable import MoonflowEngine

/// The last hour of `/v1/monitoring` (docs/api.md, "Monitoring"): percentiles, rates and
/// throughput kept by the engine in a ring of one-minute slots, read by the engine's clock.
@Suite(.timeLimit(.minutes(1))) struct LastHourMonitoringTests {
    static let approval = Workflow(
        id: "approval",
        activities: sequential([
            lua("prepare"),
            Activity(
                name: "approve", body: .manual(ManualTask(users: ["alice"], groups: [], form: nil, due: nil, remind: [], onTimeout: nil))),
            lua("close"),
        ]))

    func lastHour(_ h: Harness) async throws -> RecentOutcomes {
        try await h.engine.monitoring(dayStart: Timestamp(nanosecondsSinceEpoch: 0)).lastHour
    }

    @Test func percentilesRatesAndThroughputOfRunsThatEnded() async throws {
        let h = Harness(["prepare": returning([:]), "close": returning([:]), "boom": failing()])
        #expect(try await lastHour(h) == RecentOutcomes())
        #expect(try await lastHour(h).successRate == nil)
        #expect(try await lastHour(h).runDurations == nil)

        let waiting = try await h.run(Self.approval, id: "approved")
        let task = try #require(waiting.tasks.first)
        h.clock.advance(by: .seconds(2 * 3600))  // a person takes two hours
        #expect(try await h.engine.completeTask(task.id, data: [:], user: TaskUser("alice")) == .completed)
        #expect(try await h.run(Workflow(id: "broken", activities: [lua("boom")]), id: "broken").status == .failed)
        #expect(try await h.run(Self.approval, id: "stopped").status == .waiting)
        #expect(try await h.engine.terminate("stopped") == .terminated)

        let hour = try await lastHour(h)
        #expect(hour.runsEnded == 3)
        #expect(hour.runsCompleted == 1)
        #expect(hour.runsErrored == 1)  // a terminated run is neither a success nor an error
        #expect(hour.successRate == 1.0 / 3)
        #expect(hour.errorRate == 1.0 / 3)
        #expect(hour.runsPerMinute == 3.0 / 60)
        // The approval, close, boom and the stopped run's prepare; the approved run's prepare
        // ended two hours ago, outside the hour.
        #expect(hour.activitiesEnded == 4)
        let runs = try #require(hour.runDurations)
        #expect(runs.p50 < .milliseconds(1))
        #expect(runs.p95 == .seconds(7200) && runs.p99 == .seconds(7200))
        let activities = try #require(hour.activityDurations)
        #expect(activities.p50 < .milliseconds(1))
        #expect(activities.p99 == .seconds(7200))
    }

    @Test func theHourSlidesWithTheEngineClock() async throws {
        let h = Harness(["prepare": returning([:]), "close": returning([:])])
        // The hour is the current minute and the 59 before it: start on a minute boundary.
        let start = h.clock.now.nanosecondsSinceEpoch
        h.clock.advance(to: Timestamp(nanosecondsSinceEpoch: start - start % 60_000_000_000 + 60_000_000_000))
        let first = try await h.run(Workflow(id: "quick", activities: [lua("prepare")]), id: "first")
        #expect(first.status == .completed)
        h.clock.advance(by: .seconds(30 * 60))
        _ = try await h.run(Workflow(id: "quick", activities: [lua("prepare")]), id: "second")
        #expect(try await lastHour(h).runsEnded == 2)

        h.clock.advance(by: .seconds(29 * 60 + 59))  // 59 min 59 s after the first run
        #expect(try await lastHour(h).runsEnded == 2)
        h.clock.advance(by: .seconds(1))  // an hour after it: only the second is left
        let later = try await lastHour(h)
        #expect(later.runsEnded == 1)
        #expect(later.activitiesEnded == 1)
        h.clock.advance(by: .seconds(30 * 60))
        #expect(try await lastHour(h) == RecentOutcomes())

        // A slot is reused for its minute of the next hour, without what the old minute held.
        _ = try await h.run(Workflow(id: "quick", activities: [lua("prepare")]), id: "third")
        #expect(try await lastHour(h).runsEnded == 1)
    }

    @Test func percentilesStayWithinTwoPercentInBoundedMemory() {
        var sketch = DurationSketch()
        for milliseconds in 1...1000 { sketch.record(.milliseconds(milliseconds)) }
        for (fraction, expected) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let estimate = try! #require(sketch.percentile(fraction)).milliseconds
            #expect(abs(estimate - expected) / expected <= 0.02, "p\(Int(fraction * 100)) = \(estimate) ms")
        }
        #expect(sketch.percentile(0) == .milliseconds(1))
        #expect(sketch.percentile(1) == .milliseconds(1000))

        // From nothing to years: never more than `bucketCount` buckets.
        var wide = DurationSketch()
        var nanoseconds: Int64 = 1
        while nanoseconds < 100 * 365 * 86_400 * 1_000_000_000 {
            wide.record(.nanoseconds(nanoseconds))
            nanoseconds += nanoseconds / 100 + 1
        }
        #expect(wide.counts.count <= DurationSketch.bucketCount)
        #expect(wide.counts.keys.max() == DurationSketch.bucketCount - 1)
        #expect(wide.percentile(1) == .nanoseconds(wide.maximum))
    }
}

import Foundation
import MoonflowEngine
import MoonflowModel
import Testing

@testable import MoonflowServer

/// A schedule a reload brings (a new workflow file, or a schedule trigger added or changed)
/// starts at its first tick after it appeared: a tick that passed before the file was served
/// starts nothing.
@Suite("Schedules added by hot reload", .timeLimit(.minutes(1)))
struct ScheduleReloadTests {
    /// 1_800_000_000 s is a minute boundary: ticks of `* * * * *` fall on …060, …120, …
    static let start = Timestamp(nanosecondsSinceEpoch: 1_800_000_030_000_000_000)
    static let minutely = """
        workflow: nightly
        trigger: {schedule: {cron: "* * * * *"}}
        activities:
          - {name: a, run: "return 1"}
        """

    static func seconds(_ value: Int64) -> Timestamp { Timestamp(nanosecondsSinceEpoch: value * 1_000_000_000) }

    @Test(arguments: [
        // A workflow file written into the running server's project.
        [String: String](),
        // An existing workflow whose schedule (once a year) becomes once a minute.
        ["workflows/nightly.yaml": minutely.replacingOccurrences(of: "* * * * *", with: "0 0 1 1 *")],
    ])
    func aScheduleStartsAtItsFirstTickAfterItAppeared(_ files: [String: String]) async throws {
        let clock = ManualClock(now: Self.start)
        let root = try TestServer.project(files)
        defer { try? FileManager.default.removeItem(at: root) }
        try await TestServer.run(project: root, clock: clock) { client, core in
            // The timer and schedule services sleep on the clock: the schedule service has started.
            while clock.sleeperCount < 2 { try await Task.sleep(for: .milliseconds(5)) }
            // The tick of …060 passes while the server runs, before the schedule exists.
            clock.advance(to: Self.seconds(1_800_000_090))
            try Self.minutely.write(to: root.appendingPathComponent("workflows/nightly.yaml"), atomically: true, encoding: .utf8)
            let deadline = ContinuousClock.now + .seconds(20)
            while core.catalog.current("nightly")?.workflow.triggers.first?.kind != .schedule(cron: "* * * * *", timezone: nil),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await client.get("/v1/workflows/nightly").status == 200)

            // The next tick starts its run; the passed one never does.
            clock.advance(to: Self.seconds(1_800_000_120))
            while try await core.store.state(of: "@schedule:nightly:1800000120") == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await core.store.state(of: "@schedule:nightly:1800000120") != nil)
            #expect(try await core.store.state(of: "@schedule:nightly:1800000060") == nil)
            #expect(try await core.store.runs(status: nil).count == 1)
        }
    }
}

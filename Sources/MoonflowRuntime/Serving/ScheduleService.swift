import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import ServiceLifecycle

/// Starts the runs of `schedule:` triggers (docs/workflow-format.md) at their cron times, as durable timers: each
/// tick's run has the engine-made id `@schedule:<workflow>:<unix seconds of the tick>`
/// (`EngineRunID.scheduleTick`, which no caller can create), so a tick starts at most one run.
/// The tick is stored with its run (`RunOrigin.schedule`); the last tick fired is read back from
/// there at start, never from run ids, and a stored tick later than the present (a clock that
/// went back) counts as the present, so it cannot hold the schedule back.
///
/// Missed ticks: when the server was down over one or more ticks of a schedule that had fired
/// before, it fires once at start (for the first tick missed), never once per tick missed; then
/// it continues from the present. A schedule that never fired starts at the next tick.
///
/// A schedule that appears while the server runs (a reload adds its workflow, or adds or changes
/// its `schedule:` triggers) starts at its first tick after the reload that brought it
/// (`LiveCatalog.schedulesSince`): a tick that passed before it was served starts nothing.
package struct ScheduleService: Service {
    let core: ServedProject
    /// The longest sleep, so a reload that adds or changes a schedule is seen within it.
    let horizon: Duration

    package init(core: ServedProject, horizon: Duration = .seconds(1)) {
        self.core = core
        self.horizon = horizon
    }

    package func run() async throws {
        let started = core.engine.clock.now.date
        var lastFired = try await firedTicks().mapValues { min($0, started) }
        while !Task.isShuttingDownGracefully {
            let now = core.engine.clock.now.date
            var nextWake = now.addingTimeInterval(Double(horizon.nanoseconds) / 1e9)
            for loaded in core.catalog.workflows {
                let id = loaded.workflow.id
                // Clamped to the present, as stored ticks are: a clock that went back cannot hold it back.
                let appeared = core.catalog.schedulesSince(id).map { min($0.date, now) }
                for schedule in Self.schedules(of: loaded.workflow, logger: core.logger) {
                    var after = lastFired[id] ?? started
                    if let appeared, appeared > started { after = max(after, appeared) }
                    guard let tick = schedule.next(after: after) else { continue }
                    guard tick <= now else {
                        nextWake = min(nextWake, tick)
                        continue
                    }
                    lastFired[id] = now
                    await fire(id, tick: tick)
                }
            }
            let wake = Timestamp(nextWake)
            do {
                try await cancelWhenGracefulShutdown { try await core.engine.clock.sleep(until: wake) }
            } catch {
                return
            }
        }
    }

    private func fire(_ workflow: String, tick: Date) async {
        let event: Value = ["type": "schedule", "scheduled_at": .string(Timestamp(tick).iso8601)]
        do {
            guard let loaded = core.catalog.current(workflow) else { return }
            let started = try await core.engine.startScheduled(loaded.pinned, tick: Timestamp(tick), event: event)
            if started.created { core.dispatcher.submit(started.runID) }
            core.logger.info("schedule fired", metadata: ["workflow": .string(workflow), "run.id": .string(started.runID)])
        } catch {
            core.logger.error("schedule could not start a run", metadata: ["workflow": .string(workflow), "error": .string("\(error)")])
        }
    }

    /// The latest tick each workflow fired, from the ticks stored with schedule runs (only the
    /// schedule service starts those: callers cannot set a run's origin).
    private func firedTicks() async throws -> [String: Date] {
        var ticks: [String: Date] = [:]
        for run in try await core.store.runs(status: nil) {
            guard case .schedule(let stored) = run.origin else { continue }
            let tick = stored.date
            ticks[run.workflow] = max(ticks[run.workflow] ?? tick, tick)
        }
        return ticks
    }

    private static func schedules(of workflow: Workflow, logger: Logger) -> [CronSchedule] {
        workflow.triggers.compactMap { trigger in
            guard case .schedule(let cron, let timezone) = trigger.kind else { return nil }
            do {
                return try CronSchedule(cron, timeZone: timezone)
            } catch {
                logger.error("schedule not usable", metadata: ["workflow": .string(workflow.id), "error": .string("\(error)")])
                return nil
            }
        }
    }
}

import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import ServiceLifecycle

/// Starts the runs of `schedule:` triggers (SPEC §2) at their cron times, as durable timers: each
/// tick's run has the id `sched-<workflow>-<unix seconds of the tick>`, so a tick starts at most
/// one run (the store's idempotent start), and the last tick fired is read back from the store
/// at start.
///
/// Missed ticks: when the server was down over one or more ticks of a schedule that had fired
/// before, it fires once at start (for the first tick missed), never once per tick missed; then
/// it continues from the present. A schedule that never fired starts at the next tick.
public struct ScheduleService: Service {
    let core: ServerCore
    /// The longest sleep, so a reload that adds or changes a schedule is seen within it.
    let horizon: Duration

    init(core: ServerCore, horizon: Duration = .seconds(1)) {
        self.core = core
        self.horizon = horizon
    }

    static func runID(workflow: String, tick: Date) -> RunID { "sched-\(workflow)-\(Int64(tick.timeIntervalSince1970))" }

    public func run() async throws {
        var lastFired = try await firedTicks()
        let started = core.engine.clock.now.date
        while !Task.isShuttingDownGracefully {
            let now = core.engine.clock.now.date
            var nextWake = now.addingTimeInterval(Double(horizon.nanoseconds) / 1e9)
            for loaded in core.catalog.workflows {
                let id = loaded.workflow.id
                for schedule in Self.schedules(of: loaded.workflow, logger: core.logger) {
                    guard let tick = schedule.next(after: lastFired[id] ?? started) else { continue }
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
            let started = try await core.startRun(workflow, input: .object([:]), runID: Self.runID(workflow: workflow, tick: tick), event: event)
            core.logger.info("schedule fired", metadata: ["workflow": .string(workflow), "run.id": .string(started.runID)])
        } catch {
            core.logger.error("schedule could not start a run", metadata: ["workflow": .string(workflow), "error": .string("\(error)")])
        }
    }

    /// The latest tick each workflow fired, from the runs in the store.
    private func firedTicks() async throws -> [String: Date] {
        var ticks: [String: Date] = [:]
        for run in try await core.store.runs(status: nil) where run.id.hasPrefix("sched-\(run.workflow)-") {
            guard let seconds = Int64(run.id.dropFirst("sched-\(run.workflow)-".count)) else { continue }
            let tick = Date(timeIntervalSince1970: Double(seconds))
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

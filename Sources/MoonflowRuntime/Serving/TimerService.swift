package import Logging
package import MoonflowEngine
import MoonflowModel
import ServiceLifecycle

/// Fires durable timers (task reminders and expiry, `sleep`, run deadlines) at their stored
/// absolute times (docs/resilience.md, docs/durability.md): it sleeps until the earliest timer, at most `horizon`, so a
/// timer armed meanwhile by a drive is seen within that bound. Timers that came due while the
/// process was down fire at start.
package struct TimerService: Service {
    let engine: Engine
    let horizon: Duration
    let logger: Logger

    package init(engine: Engine, horizon: Duration = .milliseconds(250), logger: Logger) {
        self.engine = engine
        self.horizon = horizon
        self.logger = logger
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await engine.fireDueTimers()
            } catch {
                logger.error("firing timers failed", metadata: ["error": .string("\(error)")])
            }
            let limit = engine.clock.now + horizon
            let next = (try? await engine.earliestTimer(before: limit)) ?? limit
            do {
                try await cancelWhenGracefulShutdown { try await engine.clock.sleep(until: next) }
            } catch {
                return
            }
        }
    }
}

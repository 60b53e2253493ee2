import MoonflowEngine
import ServiceLifecycle

/// Lets events that scripts emit (`emit(type, payload)`, docs/sandbox.md) trigger workflows, as events
/// posted through the API do. The engine's own lifecycle events never trigger anything.
///
/// It subscribes to emitted events only: the lifecycle events of every run (several per run) are
/// never buffered for it, so a server driving thousands of runs a second neither wakes it for
/// each nor makes it fall behind. Its subscription is bounded like every other: if starting runs
/// falls `EventBus.defaultBufferLimit` emitted events behind, the events past that are lost —
/// logged as an error — and it subscribes again, rather than letting memory grow without bound.
struct EmittedEventService: Service {
    let core: ServedProject

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let subscription = core.engine.bus.subscription(wants: { !$0.type.isReserved })
            for await event in subscription.cancelOnGracefulShutdown() {
                do {
                    let emitted = PostedEvent(type: event.type.rawValue, payload: event.data, source: .emitted(runID: event.runID))
                    _ = try await core.postEvent(emitted)
                } catch {
                    core.logger.error(
                        "an emitted event could not start its runs", metadata: ["type": .string(event.type.rawValue), "error": .string("\(error)")])
                }
            }
            guard subscription.overflowed else { return }
            core.logger.error(
                "emitted events came faster than their runs could start: events past the buffer were dropped",
                metadata: ["buffer.events": "\(EventBus.defaultBufferLimit)"])
        }
    }
}

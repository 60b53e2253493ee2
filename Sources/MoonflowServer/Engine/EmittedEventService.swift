import MoonflowEngine
import ServiceLifecycle

/// Lets events that scripts emit (`emit(type, payload)`, docs/sandbox.md) trigger workflows, as events
/// posted through the API do. The engine's own lifecycle events never trigger anything.
struct EmittedEventService: Service {
    let core: ServerCore

    func run() async throws {
        for await event in core.engine.events().cancelOnGracefulShutdown() where !event.type.isReserved {
            do {
                _ = try await core.postEvent(type: event.type.rawValue, payload: event.data, eventID: nil)
            } catch {
                core.logger.error(
                    "an emitted event could not start its runs", metadata: ["type": .string(event.type.rawValue), "error": .string("\(error)")])
            }
        }
    }
}

import MoonflowModel
import Synchronization

/// Publishes events to subscribers (the log, the API stream, triggers). Each subscriber gets its
/// own unbounded `AsyncStream`; ending the iteration unsubscribes.
public final class EventBus: Sendable {
    private struct State {
        var nextID = 0
        var subscribers: [Int: AsyncStream<RunEvent>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of every event published from now on.
    public func subscribe() -> AsyncStream<RunEvent> {
        let (stream, continuation) = AsyncStream<RunEvent>.makeStream()
        let id = state.withLock { state in
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ events: [RunEvent]) {
        guard !events.isEmpty else { return }
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers {
            for event in events { subscriber.yield(event) }
        }
    }
}

import MoonflowModel
import Synchronization

/// Publishes events to subscribers (the log, the API stream, triggers). Each subscriber has its
/// own buffer of at most `bufferLimit` events: one that falls that far behind is dropped — its
/// stream ends after what it has buffered and says so (`EventSubscription.overflowed`) — so a
/// subscriber that stops reading costs a bounded amount of memory, never the process. Ending
/// the iteration unsubscribes.
package final class EventBus: Sendable {
    package static let defaultBufferLimit = 1024

    private struct Subscriber {
        var continuation: AsyncStream<RunEvent>.Continuation
        var overflow: EventSubscription.Control
        /// The events it wants; the others are never buffered for it.
        var wants: (@Sendable (RunEvent) -> Bool)?
    }

    private struct State {
        var nextID = 0
        var subscribers: [Int: Subscriber] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    /// A stream of every event published from now on (ends early when it falls `bufferLimit` behind).
    package func subscribe(bufferLimit: Int = EventBus.defaultBufferLimit) -> AsyncStream<RunEvent> {
        subscription(bufferLimit: bufferLimit).events
    }

    /// Every event published from now on for which `wants` holds (by default every one), and
    /// whether the subscription was dropped for falling behind. `wants` runs as events are
    /// published, so the events it refuses cost the subscriber neither a place in its buffer nor
    /// a wake-up: a subscriber that wants a few events does not fall behind on the others.
    package func subscription(
        bufferLimit: Int = EventBus.defaultBufferLimit, wants: (@Sendable (RunEvent) -> Bool)? = nil
    ) -> EventSubscription {
        let (stream, continuation) = AsyncStream<RunEvent>.makeStream(bufferingPolicy: .bufferingOldest(max(1, bufferLimit)))
        let overflow = EventSubscription.Control(continuation)
        let id = state.withLock { state in
            state.nextID += 1
            state.subscribers[state.nextID] = Subscriber(continuation: continuation, overflow: overflow, wants: wants)
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return EventSubscription(events: stream, overflow: overflow)
    }

    package func publish(_ events: [RunEvent]) { publish { events } }

    /// Publishes what `events` makes, made only when there are subscribers: the transitions of an
    /// engine nobody watches publish nothing.
    package func publish(_ events: () -> [RunEvent]) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        guard !subscribers.isEmpty else { return }
        let events = events()
        for subscriber in subscribers {
            for event in events where subscriber.wants?(event) ?? true {
                guard case .dropped = subscriber.continuation.yield(event) else { continue }
                subscriber.overflow.set()
                subscriber.continuation.finish()
                break
            }
        }
    }
}

/// The events of one `EventBus` subscriber.
package struct EventSubscription: AsyncSequence, Sendable {
    package typealias Element = RunEvent

    /// Whether the bus dropped the subscriber for falling behind, and the way to unsubscribe.
    final class Control: Sendable {
        private let flag = Atomic<Bool>(false)
        let continuation: AsyncStream<RunEvent>.Continuation
        init(_ continuation: AsyncStream<RunEvent>.Continuation) { self.continuation = continuation }
        func set() { flag.store(true, ordering: .releasing) }
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    package let events: AsyncStream<RunEvent>
    let overflow: Control

    /// Unsubscribes now: the bus stops buffering for it, whoever still holds the stream.
    package func cancel() { overflow.continuation.finish() }

    /// Whether the stream ended because the subscriber fell `bufferLimit` events behind (events
    /// after those it had buffered were not delivered).
    package var overflowed: Bool { overflow.isSet }

    package func makeAsyncIterator() -> AsyncStream<RunEvent>.Iterator { events.makeAsyncIterator() }
}

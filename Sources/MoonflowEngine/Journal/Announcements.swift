import MoonflowModel

/// Which events the bus publishes for a committed journal entry — the same live (after each
/// commit) and when the event stream replays the store's history (`Last-Event-ID`).
package enum Announcements {
    /// The events published for `entry`, each with its `sub` position: the entry itself (0)
    /// unless it is a fallback without `notify` (the journal records every fallback; only
    /// `notify: true` announces it), then, for an `activity.completed`, the events its body
    /// emitted (1, 2, …: their type and payload, the completion's run, activity and time). When
    /// `entry` has a position, each published event has the position with its `sub`.
    package static func published(_ entry: RunEvent) -> [(sub: Int, event: RunEvent)] {
        var out: [(sub: Int, event: RunEvent)] = []
        if entry.isAnnounced { out.append((0, entry)) }
        guard case .activityCompleted(let completed) = entry.payload else { return out }
        for (index, emitted) in completed.emitted.enumerated() {
            var event = entry
            event.payload = .emitted(type: EventType(emitted.type), payload: emitted.payload)
            event.position = entry.position.map { EventPosition(offset: $0.offset, sub: index + 1) }
            out.append((index + 1, event))
        }
        return out
    }
}

extension RunEvent {
    /// Whether the bus publishes this journal entry itself (every entry but a fallback without `notify`).
    package var isAnnounced: Bool {
        if case .activityFallback(_, let notify) = payload { notify } else { true }
    }
}

/// What the bus publishes of one transition, each event with the index of the journal entry it
/// belongs to and its `sub` position, so it can be stamped with the positions the store gave.
struct Publication: Sendable {
    struct Entry: Sendable {
        var index: Int
        var sub: Int
        var event: RunEvent
    }

    var entries: [Entry]

    init(entries: [Entry]) { self.entries = entries }

    /// The events as `Announcements.published` has them.
    init(announcing events: [RunEvent]) {
        entries = events.enumerated().flatMap { index, event in
            Announcements.published(event).map { Entry(index: index, sub: $0.sub, event: $0.event) }
        }
    }

    /// The events with the positions of their journal entries (`offsets`, in the order written).
    func stamped(_ offsets: [Int64]) -> [RunEvent] {
        entries.map { entry in
            guard entry.index < offsets.count else { return entry.event }
            return entry.event.at(EventPosition(offset: offsets[entry.index], sub: entry.sub))
        }
    }

    /// The handler that publishes the stamped events on `bus` once the store committed them.
    func publisher(on bus: EventBus) -> CommitHandler {
        { offsets in bus.publish(stamped(offsets)) }
    }
}

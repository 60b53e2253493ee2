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

/// What the bus publishes of one transition: its events as `Announcements.published` has them,
/// and a `run.notification` after the event that ends the run when the workflow asks for one. It
/// is worked out only when the bus has subscribers, once the store gave the positions.
struct Publication: Sendable {
    private let events: [RunEvent]
    /// Announced after the event that ended the run.
    private let notification: RunNotification?

    init(announcing events: [RunEvent], notification: RunNotification? = nil) {
        self.events = events
        self.notification = notification
    }

    /// The published events with the positions of their journal entries (`offsets`, in the order written).
    func stamped(_ offsets: [Int64]) -> [RunEvent] {
        var out: [RunEvent] = []
        out.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            let offset = index < offsets.count ? offsets[index] : nil
            let published = Announcements.published(event)
            for (sub, announced) in published {
                out.append(offset.map { announced.at(EventPosition(offset: $0, sub: sub)) } ?? announced)
            }
            if let notification, event.type.endsRun {
                let sub = (published.last?.sub ?? 0) + 1
                let announced = RunEvent(.runNotification(notification), runID: event.runID, workflow: event.workflow, at: event.at)
                out.append(offset.map { announced.at(EventPosition(offset: $0, sub: sub)) } ?? announced)
            }
        }
        return out
    }

    /// The handler that publishes the stamped events on `bus` once the store committed them.
    func publisher(on bus: EventBus) -> CommitHandler {
        { offsets in bus.publish { stamped(offsets) } }
    }
}

extension EventType {
    /// The run ended failing (the events a `run.notification` follows).
    var endsRun: Bool {
        switch self {
        case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed: true
        default: false
        }
    }
}

package import MoonflowModel

/// The runs' outboxes (docs/integrations.md, "Notifications"): what is queued and not yet
/// delivered, and how a delivery ended, recorded in the run's journal under its lease.
extension Engine {
    /// A notification waiting in a run's outbox.
    package struct PendingNotification: Sendable, Hashable {
        package var runID: RunID
        package var notification: QueuedNotification
        package init(runID: RunID, notification: QueuedNotification) {
            self.runID = runID
            self.notification = notification
        }
    }

    /// Every notification queued and neither delivered nor dead-lettered, run by run in creation order.
    package func pendingNotifications() async throws -> [PendingNotification] {
        try await store.runsWithPendingNotifications().flatMap { state in
            state.outbox.values.map { PendingNotification(runID: state.id, notification: $0) }
        }
    }

    /// Records that the channel took the notification (`notification.delivered`) or that every
    /// attempt failed (`notification.dead_lettered`, with the last failure). A notification no
    /// longer pending is left as it is: another delivery recorded it first.
    package func recordDelivery(
        _ pending: PendingNotification, attempts: Int, failure: ActivityFailure?
    ) async throws {
        try await leases.withLease(pending.runID) {
            guard var state = try await store.state(of: pending.runID), state.outbox[pending.notification.id] != nil else { return }
            let id = pending.notification.id
            let channel = pending.notification.channel
            let payload: RunEvent.Payload =
                if let failure {
                    .notificationDeadLettered(id: id, channel: channel, attempts: attempts, error: failure)
                } else {
                    .notificationDelivered(id: id, channel: channel, attempts: attempts)
                }
            let event = RunEvent(payload, runID: state.id, workflow: state.workflow, at: clock.now)
            state.apply(event)
            try await store.append(
                state.id, events: [event], newState: state, committed: Publication(announcing: [event]).publisher(on: bus))
        }
    }
}

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
    /// attempt failed (`notification.dead_lettered`, with the last failure, and a
    /// `notification_failed` dead letter an operator can redrive). A notification no longer
    /// pending is left as it is: another delivery recorded it first. The dead letter is stored
    /// before the journal entry and named for the notification, so a crash between the two
    /// leaves it pending, and delivering it again names the same dead letter.
    package func recordDelivery(
        _ pending: PendingNotification, attempts: Int, failure: ActivityFailure?
    ) async throws {
        try await leases.withLease(pending.runID) {
            guard var state = try await store.state(of: pending.runID), state.outbox[pending.notification.id] != nil else { return }
            let id = pending.notification.id
            let channel = pending.notification.channel
            if let failure { try await recordDeadLetter(of: pending, attempts: attempts, failure: failure, state: state) }
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

    /// Records that a dead-lettered notification's redrive delivered it: the letter `redriven`,
    /// and `notification.delivered` in its run's journal (when the run is still stored).
    package func recordRedelivery(_ letter: EventDeadLetter) async throws -> EventDeadLetter {
        guard let failed = letter.notification else { return letter }
        var letter = letter
        letter.status = .redriven
        _ = try await store.updateEventDeadLetter(letter)
        try await leases.withLease(failed.runID) {
            guard var state = try await store.state(of: failed.runID) else { return }
            let delivered = RunEvent.Payload.notificationDelivered(
                id: failed.notification.id, channel: failed.notification.channel, attempts: failed.attempts + 1)
            let event = RunEvent(delivered, runID: state.id, workflow: state.workflow, at: clock.now)
            state.apply(event)
            try await store.append(
                state.id, events: [event], newState: state, committed: Publication(announcing: [event]).publisher(on: bus))
        }
        logger.notice(
            "dead-lettered notification delivered",
            metadata: ["dead_letter.id": .string(letter.id), "run.id": .string(failed.runID), "notification": .string(failed.notification.id)])
        return letter
    }

    private func recordDeadLetter(of pending: PendingNotification, attempts: Int, failure: ActivityFailure, state: RunState) async throws {
        let failed = EventDeadLetter.FailedNotification(runID: pending.runID, notification: pending.notification, attempts: attempts)
        let letter = EventDeadLetter(
            notification: failed, createdAt: clock.now, workflow: state.workflow, version: state.version,
            definitionHash: state.definitionHash, error: failure.description)
        _ = try await store.recordEventDeadLetter(letter)
    }
}

import Logging
import MoonflowModel

/// What the bus announces besides the journal (docs/resilience.md): a fallback only when its
/// `notify` is set, and `run.notification` when a run with `workflow_error.notification` fails.
/// Until channels deliver them, each announcement is also a log line at warning.
extension RunJournal {
    /// The events of one transition as the bus publishes them once it committed, each journal
    /// entry followed by what belongs to it (`Announcements.published`, then a `run.notification`).
    /// `state` is the fold of the transition.
    func publication(of events: [RunEvent], in state: RunState) -> Publication {
        guard let notification, events.contains(where: { $0.type.endsRun }) else { return Publication(announcing: events) }
        // Announced after the transition that ended the run: the state holds how it ended.
        return Publication(
            announcing: events,
            notification: RunNotification(
                status: state.status, channels: notification.channels, recipients: notification.recipients, error: state.error))
    }

    /// The warning lines of a committed transition's announcements.
    func logAnnouncements(_ events: [RunEvent], in state: RunState) {
        for event in events {
            switch event.payload {
            case .activityFallback(let failure, notify: true):
                logger.run(state.id, workflow: workflow, activity: event.activity)
                    .warning("activity.fallback", metadata: ["error": .string(failure.description)])
            case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed:
                guard let notification else { continue }
                logger.run(state.id, workflow: workflow).warning(
                    "run.notification",
                    metadata: [
                        "status": .string(state.status.rawValue), "channels": .string(notification.channels.joined(separator: ",")),
                        "recipients": .string(notification.recipients.joined(separator: ",")),
                    ])
            default: break
            }
        }
    }
}

import Logging
import MoonflowModel

/// What the bus announces besides the journal (docs/resilience.md): a fallback only when its
/// `notify` is set, and `run.notification` when a run with `workflow_error.notification` fails.
/// Until channels deliver them, each announcement is also a log line at warning.
extension RunDriver {
    /// The events of one transition as the bus publishes them once it committed, each journal
    /// entry followed by what belongs to it (`Announcements.published`, then a `run.notification`).
    func publication(of events: [RunEvent]) -> Publication {
        var entries: [Publication.Entry] = []
        entries.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            let published = Announcements.published(event)
            for (sub, announced) in published { entries.append(Publication.Entry(index: index, sub: sub, event: announced)) }
            switch event.type {
            case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed:
                if let notification = workflow.errorHandling.notification {
                    let sub = (published.last?.sub ?? 0) + 1
                    entries.append(Publication.Entry(index: index, sub: sub, event: runNotification(notification, after: event)))
                }
            default: break
            }
        }
        return Publication(entries: entries)
    }

    /// The warning lines of a committed transition's announcements.
    func logAnnouncements(_ events: [RunEvent]) {
        for event in events {
            switch event.payload {
            case .activityFallback(let failure, notify: true):
                logger(event.activity).warning("activity.fallback", metadata: ["error": .string(failure.description)])
            case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed:
                guard let notification = workflow.errorHandling.notification else { continue }
                logger(nil).warning(
                    "run.notification",
                    metadata: [
                        "status": .string(state.status.rawValue), "channels": .string(notification.channels.joined(separator: ",")),
                        "recipients": .string(notification.recipients.joined(separator: ",")),
                    ])
            default: break
            }
        }
    }

    private func runNotification(_ notification: ErrorHandling.Notification, after ending: RunEvent) -> RunEvent {
        // Announced after the transition that ended the run: the state holds how it ended.
        let announced = RunNotification(
            status: state.status, channels: notification.channels, recipients: notification.recipients, error: state.error)
        return RunEvent(.runNotification(announced), runID: ending.runID, workflow: ending.workflow, at: ending.at)
    }
}

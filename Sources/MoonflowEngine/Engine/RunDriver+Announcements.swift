import Logging
import MoonflowModel

/// What the bus announces besides the journal (docs/resilience.md): a fallback only when its
/// `notify` is set, and `run.notification` when a run with `workflow_error.notification` fails.
/// Until channels deliver them, each announcement is also a log line at warning.
extension RunDriver {
    /// The events of one committed transition as the bus publishes them.
    func announced(_ events: [RunEvent]) -> [RunEvent] {
        var out: [RunEvent] = []
        out.reserveCapacity(events.count)
        for event in events {
            switch event.payload {
            case .activityFallback(let failure, let notify):
                // The journal records every fallback (the history); only `notify: true` announces it.
                guard notify else { continue }
                logger(event.activity).warning("activity.fallback", metadata: ["error": .string(failure.description)])
                out.append(event)
            case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed:
                out.append(event)
                if let notification = workflow.errorHandling.notification { out.append(runNotification(notification, after: event)) }
            default:
                out.append(event)
            }
        }
        return out
    }

    private func runNotification(_ notification: ErrorHandling.Notification, after ending: RunEvent) -> RunEvent {
        // Announced after the transition that ended the run: the state holds how it ended.
        let status = state.status
        logger(nil).warning(
            "run.notification",
            metadata: [
                "status": .string(status.rawValue), "channels": .string(notification.channels.joined(separator: ",")),
                "recipients": .string(notification.recipients.joined(separator: ",")),
            ])
        let announced = RunNotification(
            status: status, channels: notification.channels, recipients: notification.recipients, error: state.error)
        return RunEvent(.runNotification(announced), runID: ending.runID, workflow: ending.workflow, at: ending.at)
    }
}

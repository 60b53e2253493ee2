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
            switch event.type {
            case .activityFallback:
                // The journal records every fallback (the history); only `notify: true` announces it.
                guard event.data["notify"]?.boolValue == true else { continue }
                logger(event.activity).warning(
                    "activity.fallback", metadata: ["error": .string(ActivityFailure(value: event.data["error"] ?? .null).description)])
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
        let status = String(ending.type.rawValue.dropFirst("run.".count))
        let data: Value = [
            "status": .string(status), "channels": .array(notification.channels.map(Value.string)),
            "recipients": .array(notification.recipients.map(Value.string)), "error": state.error?.toValue() ?? .null,
        ]
        logger(nil).warning(
            "run.notification",
            metadata: [
                "status": .string(status), "channels": .string(notification.channels.joined(separator: ",")),
                "recipients": .string(notification.recipients.joined(separator: ",")),
            ])
        return RunEvent(type: .runNotification, runID: ending.runID, workflow: ending.workflow, at: ending.at, data: data)
    }
}

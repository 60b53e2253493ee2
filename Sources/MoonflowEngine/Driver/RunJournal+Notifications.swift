import Foundation
import MoonflowModel

/// The run's outbox (docs/integrations.md, "Notifications"): a transition that announces something
/// to channels stages one `notification.queued` per channel right after the event, so the
/// notification is written in the same transaction as what it announces. Delivering it is the
/// runtime's `NotificationOutbox`, which records `notification.delivered` or
/// `notification.dead_lettered`; the run never waits for it.
extension RunJournal {
    /// What a workflow notifies, read from its definition once.
    struct Channels: Sendable {
        /// `workflow_error.notification`: a failed run and `fallback: {notify: true}`.
        var workflow: ErrorHandling.Notification?
        /// `notify:` of manual activities, by activity.
        var tasks: [String: [String]]

        init(_ workflow: Workflow) {
            self.workflow = workflow.errorHandling.notification
            var tasks: [String: [String]] = [:]
            for activity in workflow.activities {
                if case .manual(let task) = activity.body, !task.notify.isEmpty { tasks[activity.name] = task.notify }
            }
            self.tasks = tasks
        }

        var isEmpty: Bool { (workflow?.channels.isEmpty ?? true) && tasks.isEmpty }
    }

    /// The `notification.queued` events `event` calls for, given `state` after it (their ids are
    /// the journal positions they will take).
    func notifications(after event: RunEvent, in state: RunState) -> [RunEvent] {
        guard !channels.isEmpty else { return [] }
        let channelNames: [String]
        var message: [String: Value] = ["event": .string(event.type.rawValue), "activity": event.activity.map(Value.string) ?? .null]
        switch event.payload {
        case .runFailed, .runTimedOut, .runCompensated, .runCompensationFailed:
            guard let notification = channels.workflow else { return [] }
            channelNames = notification.channels
            message["recipients"] = .strings(notification.recipients)
            message["activity"] = state.errorActivity.map(Value.string) ?? .null
            message["error"] = state.error?.toValue() ?? .null
        case .activityFallback(let failure, notify: true):
            guard let notification = channels.workflow else { return [] }
            channelNames = notification.channels
            message["recipients"] = .strings(notification.recipients)
            message["error"] = failure.toValue()
        case .taskCreated(let task):
            guard let activity = event.activity, let notify = channels.tasks[activity] else { return [] }
            channelNames = notify
            message["event"] = .string(EventType.taskAssigned.rawValue)
            message["recipients"] = .strings(task.users + task.groups.map { "group:\($0)" })
            message["task"] = .string(task.id)
        default:
            return []
        }
        message["workflow"] = .string(workflow)
        message["run_id"] = .string(state.id)
        message["error"] = message["error"] ?? .null
        let segment = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        message["url"] = .string("/v1/runs/\(state.id.addingPercentEncoding(withAllowedCharacters: segment) ?? state.id)")
        let ordered: Value = .object(
            .init(uniqueKeysWithValues: ["event", "workflow", "run_id", "activity", "error", "recipients", "url", "task"].compactMap { key in
                message[key].map { (key, $0) }
            }))
        return channelNames.enumerated().map { offset, channel in
            let queued = QueuedNotification(id: "\(state.id):\(state.journalLength + offset + 1)", channel: channel, message: ordered)
            return RunEvent(.notificationQueued(queued), runID: state.id, workflow: workflow, activity: event.activity, at: event.at)
        }
    }
}

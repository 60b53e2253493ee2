package import MoonflowModel

/// A stored row that does not read back (written by another program, or damaged).
package enum StoreDataError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Entry `seq` of the run's journal is not JSON, or not an event this build reads (`reason`).
    case badJournalEntry(runID: String, seq: Int, reason: String)
    case badDeadLetter(id: String)
    package var description: String {
        switch self {
        case .badJournalEntry(let id, let seq, let reason):
            "run '\(SafeText.display(id, limit: 256))': journal entry \(seq) does not read back: \(reason)"
        case .badDeadLetter(let id): "dead letter '\(SafeText.display(id, limit: 256))' does not decode"
        }
    }
}

extension RunEvent {
    /// One stored journal row's text read back (`RunEvent(journalValue:)`, which also reads rows of
    /// earlier formats); one that does not is `StoreDataError.badJournalEntry`.
    package init(storedJournalText text: String, runID: String, seq: Int) throws(StoreDataError) {
        let value: Value
        do {
            value = try Value(json: text)
        } catch {
            throw .badJournalEntry(runID: runID, seq: seq, reason: "not JSON (\(error))")
        }
        do {
            self = try RunEvent(journalValue: value)
        } catch {
            throw .badJournalEntry(runID: runID, seq: seq, reason: error.description)
        }
    }
}

/// The kinds of rows in `timers`: the run's durable timers (`RunState.timers`) plus backoffs,
/// which the driver waits for itself but a restart must see.
package enum TimerKind: String, Sendable {
    case backoff, sleep
    case runDeadline = "run_deadline"
    case taskReminder = "task_reminder"
    case taskDue = "task_due"
    case queueTimeout = "queue_timeout"

    package struct Row: Sendable, Hashable {
        package var kind: TimerKind
        package var ref: String
        package var at: Timestamp
    }

    package static func rows(of state: RunState) -> [Row] {
        guard !state.status.isTerminal else { return [] }
        var rows = state.timers.map { timer -> Row in
            switch timer.kind {
            case .taskReminder(let id): Row(kind: .taskReminder, ref: id, at: timer.at)
            case .taskDue(let id): Row(kind: .taskDue, ref: id, at: timer.at)
            case .sleep(let activity): Row(kind: .sleep, ref: activity, at: timer.at)
            case .runDeadline: Row(kind: .runDeadline, ref: "", at: timer.at)
            case .queueTimeout: Row(kind: .queueTimeout, ref: "", at: timer.at)
            }
        }
        for record in state.activities.values where record.status == .backoff {
            if let at = record.nextAttemptAt { rows.append(Row(kind: .backoff, ref: record.name, at: at)) }
        }
        return rows
    }

    /// The `RunTimer` kind of a stored row; `nil` for backoffs, which are not `RunTimer`s.
    package static func runTimerKind(_ kind: String, ref: String) -> RunTimer.Kind? {
        switch TimerKind(rawValue: kind) {
        case .taskReminder: .taskReminder(taskID: ref)
        case .taskDue: .taskDue(taskID: ref)
        case .sleep: .sleep(activity: ref)
        case .runDeadline: .runDeadline
        case .queueTimeout: .queueTimeout
        case .backoff, nil: nil
        }
    }
}

package import MoonflowModel
import OrderedCollections

/// One line of a run's log (`moonflow runs logs`, `GET /v1/runs/{id}/logs`), read from its journal:
/// a script's `log.*` entry (`source: script`) or a line the engine says about a transition
/// (`source: engine`: a failure, a retry, a pause…). Nothing but the journal is read, so the log
/// of a run is the same on any process and after any restart.
package struct RunLogLine: Sendable, Hashable {
    /// The levels in order; a filter keeps its level and those after it.
    package static let levels = ["debug", "info", "warn", "error"]

    package var seq: Int
    package var at: Timestamp
    package var level: String
    package var source: String
    package var activity: String?
    package var attempt: Int?
    package var event: String
    package var message: String
    package var fields: Value?

    package func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = [
            "seq": .int(Int64(seq)), "at": .string(at.iso8601), "level": .string(level), "source": .string(source),
            "activity": activity.map(Value.string) ?? .null, "attempt": attempt.map { .int(Int64($0)) } ?? .null,
            "event": .string(event), "message": .string(message),
        ]
        if let fields { object["fields"] = fields }
        return .object(object)
    }

    /// The lines of a journal, in order, at `minimumLevel` or above and of `activity` when given.
    package static func lines(of journal: [RunEvent], minimumLevel: String = "debug", activity: String? = nil) -> [RunLogLine] {
        let floor = levels.firstIndex(of: minimumLevel) ?? 0
        var lines: [RunLogLine] = []
        for (index, event) in journal.enumerated() {
            if let activity, event.activity != activity { continue }
            guard let (level, source, message, fields) = describe(event) else { continue }
            guard (levels.firstIndex(of: level) ?? 0) >= floor else { continue }
            lines.append(
                RunLogLine(
                    seq: index + 1, at: event.at, level: level, source: source, activity: event.activity, attempt: event.attempt,
                    event: event.type.rawValue, message: message, fields: fields))
        }
        return lines
    }

    private static func describe(_ event: RunEvent) -> (String, String, String, Value?)? {
        let name = event.activity.map { "'\($0)'" } ?? "the run"
        switch event.payload {
        case .activityLog(let entry):
            let level = entry.level == "warning" ? "warn" : entry.level
            return (levels.contains(level) ? level : "info", "script", entry.message, entry.fields == .object([:]) ? nil : entry.fields)
        case .runQueued: return ("info", "engine", "run queued", nil)
        case .runStarted: return ("info", "engine", "run started", nil)
        case .runWaiting: return ("info", "engine", "run waits", nil)
        case .runResumed: return ("info", "engine", "run resumed", nil)
        case .runPaused(let reason):
            return ("info", "engine", "run paused (\(reason.name))\(reason.activity.map { " before '\($0)'" } ?? "")", nil)
        case .runUnpaused(let step): return ("info", "engine", step ? "run continues for one step" : "run unpaused", nil)
        case .runRedriven(_, let repin, _):
            return ("info", "engine", repin.map { "run redriven under definition \($0.definitionHash)" } ?? "run redriven", nil)
        case .runFailing(let cause, let error, _): return ("error", "engine", "run \(cause.rawValue): \(error.type): \(error.message)", nil)
        case .runCompleted: return ("info", "engine", "run completed", nil)
        case .runFailed, .runTimedOut, .runCancelled, .runTerminated, .runCompensated, .runCompensationFailed:
            return ("info", "engine", "run ended \(event.type.rawValue.dropFirst("run.".count))", nil)
        case .activityStarted: return ("debug", "engine", "\(name) attempt \(event.attempt ?? 1) started", nil)
        case .activityRetrying(let error, let next):
            return ("warn", "engine", "\(name) attempt failed (\(error.type): \(error.message)); next attempt at \(next.iso8601)", nil)
        case .activityInterrupted: return ("warn", "engine", "\(name) was interrupted (its process stopped); it runs again", nil)
        case .activityFallback(let error, _): return ("warn", "engine", "\(name) falls back after \(error.type): \(error.message)", nil)
        case .activityCompleted: return ("info", "engine", "\(name) completed", nil)
        case .activityFailed(let error, let attempts):
            return ("error", "engine", "\(name) failed after \(attempts) attempt(s): \(error.type): \(error.message)", nil)
        case .activityCancelled(let error, _): return ("warn", "engine", "\(name) cancelled: \(error.message)", nil)
        case .compensationFailed(let error, _): return ("error", "engine", "compensation of \(name) failed: \(error.type): \(error.message)", nil)
        case .taskExpired(let id, let error): return ("warn", "engine", "task \(id) expired: \(error.message)", nil)
        case .notificationDeadLettered(let id, let channel, _, let error):
            return ("error", "engine", "notification \(id) to '\(channel)' dead-lettered: \(error.message)", nil)
        case .circuit(let breaker, let from, let to):
            return (to == .open ? "warn" : "info", "engine", "circuit '\(breaker)' \(from.rawValue) -> \(to.rawValue)", nil)
        default: return nil
        }
    }
}

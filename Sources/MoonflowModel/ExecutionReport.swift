package import OrderedCollections

/// What happened in one run (docs/cli.md): printed by `moonflow run`, served by the API, described by
/// `schemas/report.schema.json`. `toValue()` gives the JSON shape with the snake_case keys docs/cli.md shows.
package struct ExecutionReport: Sendable, Hashable {
    /// A run's or an activity's error as reported.
    package struct ErrorInfo: Sendable, Hashable {
        package var type: String
        package var message: String
        /// The activity whose failure ended the run (run-level errors only).
        package var activity: String?
        package var details: Value?

        /// `message` is stored in `SafeText.errorMessage` form, as `ActivityFailure` keeps it.
        package init(type: String, message: String, activity: String? = nil, details: Value? = nil) {
            self.type = type
            self.message = SafeText.errorMessage(message)
            self.activity = activity
            self.details = details
        }

        package init(_ failure: ActivityFailure, activity: String? = nil) {
            self.init(type: failure.type.rawValue, message: failure.message, activity: activity, details: failure.details)
        }

        package func toValue() -> Value {
            var object: OrderedDictionary<String, Value> = ["type": .string(type), "message": .string(message)]
            if let activity { object["activity"] = .string(activity) }
            if let details { object["details"] = details }
            return .object(object)
        }
    }

    package struct ActivityEntry: Sendable, Hashable {
        package var name: String
        package var status: ActivityStatus
        package var attempts: Int
        package var startedAt: Timestamp?
        package var finishedAt: Timestamp?
        package var input: Value?
        package var output: Value?
        package var error: ErrorInfo?
        /// The completion sequence number; `nil` for activities that never completed.
        package var seq: Int?
        package var viaFallback: Bool

        package init(
            name: String, status: ActivityStatus, attempts: Int, startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil,
            input: Value? = nil, output: Value? = nil, error: ErrorInfo? = nil, seq: Int? = nil, viaFallback: Bool = false
        ) {
            self.name = name
            self.status = status
            self.attempts = attempts
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.input = input
            self.output = output
            self.error = error
            self.seq = seq
            self.viaFallback = viaFallback
        }

        package var durationMs: Int64? { ExecutionReport.milliseconds(from: startedAt, to: finishedAt) }

        package func toValue() -> Value {
            [
                "name": .string(name), "status": .string(status.rawValue), "attempts": .int(Int64(attempts)),
                "started_at": startedAt.reportValue, "finished_at": finishedAt.reportValue,
                "duration_ms": durationMs.map { .int($0) } ?? .null, "input": input ?? .null, "output": output ?? .null,
                "error": error?.toValue() ?? .null, "seq": seq.map { .int(Int64($0)) } ?? .null,
                "via_fallback": .bool(viaFallback),
            ]
        }
    }

    package struct CompensationEntry: Sendable, Hashable {
        /// The activity undone.
        package var activity: String
        /// The script or body that undid it.
        package var handler: String
        package var status: CompensationStatus
        package var attempts: Int
        package var startedAt: Timestamp?
        package var finishedAt: Timestamp?
        package var error: ErrorInfo?
        /// What the compensation returned, once completed.
        package var output: Value?

        package init(
            activity: String, handler: String, status: CompensationStatus, attempts: Int, startedAt: Timestamp? = nil,
            finishedAt: Timestamp? = nil, error: ErrorInfo? = nil, output: Value? = nil
        ) {
            self.output = output
            self.activity = activity
            self.handler = handler
            self.status = status
            self.attempts = attempts
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.error = error
        }

        package func toValue() -> Value {
            [
                "activity": .string(activity), "handler": .string(handler), "status": .string(status.rawValue),
                "attempts": .int(Int64(attempts)), "started_at": startedAt.reportValue,
                "finished_at": finishedAt.reportValue, "output": output ?? .null, "error": error?.toValue() ?? .null,
            ]
        }
    }

    package struct TaskEntry: Sendable, Hashable {
        package var id: String
        package var activity: String
        package var status: TaskStatus
        /// Users and groups, as `{users: [...], groups: [...]}`.
        package var users: [String]
        package var groups: [String]
        package var due: Timestamp?

        package init(id: String, activity: String, status: TaskStatus, users: [String], groups: [String], due: Timestamp?) {
            self.id = id
            self.activity = activity
            self.status = status
            self.users = users
            self.groups = groups
            self.due = due
        }

        package func toValue() -> Value {
            [
                "id": .string(id), "activity": .string(activity), "status": .string(status.rawValue),
                "assignees": ["users": .array(users.map(Value.string)), "groups": .array(groups.map(Value.string))],
                "due": due.reportValue,
            ]
        }
    }

    package var runID: String
    package var workflow: String
    package var version: String?
    package var definitionHash: String
    package var status: RunStatus
    package var startedAt: Timestamp?
    package var finishedAt: Timestamp?
    package var input: Value
    package var context: OrderedDictionary<String, Value>
    package var output: Value?
    package var error: ErrorInfo?
    /// In declaration order.
    package var activities: [ActivityEntry]
    /// In the order they ran; planned ones that never ran last, as `pending`.
    package var compensations: [CompensationEntry]
    package var tasks: [TaskEntry]
    /// How many events the run's journal holds.
    package var events: Int
    /// While the run is paused: why (`requested`, `breakpoint`, `step`).
    package var pauseReason: String?
    /// While the run is paused at a breakpoint or a step: the activity it pauses before.
    package var pausedBefore: String?
    /// The run this one reruns (`moonflow runs rerun`).
    package var rerunOf: String?

    package init(
        runID: String, workflow: String, version: String?, definitionHash: String, status: RunStatus,
        startedAt: Timestamp?, finishedAt: Timestamp?, input: Value, context: OrderedDictionary<String, Value>,
        output: Value?, error: ErrorInfo?, activities: [ActivityEntry], compensations: [CompensationEntry],
        tasks: [TaskEntry], events: Int
    ) {
        self.runID = runID
        self.workflow = workflow
        self.version = version
        self.definitionHash = definitionHash
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.input = input
        self.context = context
        self.output = output
        self.error = error
        self.activities = activities
        self.compensations = compensations
        self.tasks = tasks
        self.events = events
    }

    package var durationMs: Int64? { Self.milliseconds(from: startedAt, to: finishedAt) }

    /// The JSON object of docs/cli.md.
    package func toValue() -> Value {
        var object: OrderedDictionary<String, Value> = [
            "run_id": .string(runID), "workflow": .string(workflow), "version": version.map(Value.string) ?? .null,
            "definition_hash": .string(definitionHash), "status": .string(status.rawValue),
            "started_at": startedAt.reportValue, "finished_at": finishedAt.reportValue,
            "duration_ms": durationMs.map { .int($0) } ?? .null, "input": input, "context": .object(context),
            "output": output ?? .null, "error": error?.toValue() ?? .null,
            "activities": .array(activities.map { $0.toValue() }),
            "compensations": .array(compensations.map { $0.toValue() }), "tasks": .array(tasks.map { $0.toValue() }),
            "events": .int(Int64(events)),
        ]
        if let pauseReason { object["paused"] = ["reason": .string(pauseReason), "before": pausedBefore.map(Value.string) ?? .null] }
        if let rerunOf { object["rerun_of"] = .string(rerunOf) }
        return .object(object)
    }

    /// The same information for a person: a header, one line per activity (status, attempts,
    /// duration), then compensations, tasks and the error.
    package func renderText() -> String {
        var lines = ["run \(runID)  workflow \(workflow)\(version.map { " v\($0)" } ?? "")  \(status)\(Self.duration(durationMs))"]
        let width = activities.map(\.name.count).max() ?? 0
        for entry in activities {
            let name = entry.name.padding(toLength: width, withPad: " ", startingAt: 0)
            var line = "  \(name)  \(entry.status.rawValue)  attempts \(entry.attempts)\(Self.duration(entry.durationMs))"
            if let error = entry.error { line += "  \(error.type): \(error.message)" }
            lines.append(line)
        }
        for entry in compensations {
            var line = "  undo \(entry.activity) with \(entry.handler)  \(entry.status.rawValue)  attempts \(entry.attempts)"
            if let error = entry.error { line += "  \(error.type): \(error.message)" }
            lines.append(line)
        }
        for task in tasks {
            lines.append("  task \(task.id) (\(task.activity))  \(task.status.rawValue)\(task.due.map { "  due \($0)" } ?? "")")
        }
        if let error {
            lines.append("error \(error.type): \(error.message)\(error.activity.map { " (activity \($0))" } ?? "")")
        }
        if let output { lines.append("output \(output.jsonString())") }
        if let pauseReason {
            lines.append("paused (\(pauseReason))\(pausedBefore.map { " before \($0)" } ?? "")  context \(Value.object(context).jsonString())")
        }
        if let rerunOf { lines.append("rerun of \(rerunOf)") }
        return lines.joined(separator: "\n")
    }

    static func milliseconds(from start: Timestamp?, to end: Timestamp?) -> Int64? {
        guard let start, let end else { return nil }
        return (end.nanosecondsSinceEpoch - start.nanosecondsSinceEpoch) / 1_000_000
    }

    private static func duration(_ ms: Int64?) -> String { ms.map { "  \($0)ms" } ?? "" }
}

extension Optional where Wrapped == Timestamp {
    fileprivate var reportValue: Value { map { .string($0.iso8601) } ?? .null }
}

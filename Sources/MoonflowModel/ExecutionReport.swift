import OrderedCollections

/// What happened in one run (docs/cli.md): printed by `moonflow run`, served by the API, described by
/// `schemas/report.schema.json`. `toValue()` gives the JSON shape with the snake_case keys docs/cli.md shows.
public struct ExecutionReport: Sendable, Hashable {
    /// A run's or an activity's error as reported.
    public struct ErrorInfo: Sendable, Hashable {
        public var type: String
        public var message: String
        /// The activity whose failure ended the run (run-level errors only).
        public var activity: String?
        public var details: Value?

        /// `message` is stored in `SafeText.errorMessage` form, as `ActivityFailure` keeps it.
        public init(type: String, message: String, activity: String? = nil, details: Value? = nil) {
            self.type = type
            self.message = SafeText.errorMessage(message)
            self.activity = activity
            self.details = details
        }

        public init(_ failure: ActivityFailure, activity: String? = nil) {
            self.init(type: failure.type.rawValue, message: failure.message, activity: activity, details: failure.details)
        }

        public func toValue() -> Value {
            var object: OrderedDictionary<String, Value> = ["type": .string(type), "message": .string(message)]
            if let activity { object["activity"] = .string(activity) }
            if let details { object["details"] = details }
            return .object(object)
        }
    }

    public struct ActivityEntry: Sendable, Hashable {
        public var name: String
        public var status: ActivityStatus
        public var attempts: Int
        public var startedAt: Timestamp?
        public var finishedAt: Timestamp?
        public var input: Value?
        public var output: Value?
        public var error: ErrorInfo?
        /// The completion sequence number; `nil` for activities that never completed.
        public var seq: Int?
        public var viaFallback: Bool

        public init(
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

        public var durationMs: Int64? { ExecutionReport.milliseconds(from: startedAt, to: finishedAt) }

        public func toValue() -> Value {
            [
                "name": .string(name), "status": .string(status.rawValue), "attempts": .int(Int64(attempts)),
                "started_at": startedAt.reportValue, "finished_at": finishedAt.reportValue,
                "duration_ms": durationMs.map { .int($0) } ?? .null, "input": input ?? .null, "output": output ?? .null,
                "error": error?.toValue() ?? .null, "seq": seq.map { .int(Int64($0)) } ?? .null,
                "via_fallback": .bool(viaFallback),
            ]
        }
    }

    public struct CompensationEntry: Sendable, Hashable {
        /// The activity undone.
        public var activity: String
        /// The script or body that undid it.
        public var handler: String
        public var status: CompensationStatus
        public var attempts: Int
        public var startedAt: Timestamp?
        public var finishedAt: Timestamp?
        public var error: ErrorInfo?
        /// What the compensation returned, once completed.
        public var output: Value?

        public init(
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

        public func toValue() -> Value {
            [
                "activity": .string(activity), "handler": .string(handler), "status": .string(status.rawValue),
                "attempts": .int(Int64(attempts)), "started_at": startedAt.reportValue,
                "finished_at": finishedAt.reportValue, "output": output ?? .null, "error": error?.toValue() ?? .null,
            ]
        }
    }

    public struct TaskEntry: Sendable, Hashable {
        public var id: String
        public var activity: String
        public var status: TaskStatus
        /// Users and groups, as `{users: [...], groups: [...]}`.
        public var users: [String]
        public var groups: [String]
        public var due: Timestamp?

        public init(id: String, activity: String, status: TaskStatus, users: [String], groups: [String], due: Timestamp?) {
            self.id = id
            self.activity = activity
            self.status = status
            self.users = users
            self.groups = groups
            self.due = due
        }

        public func toValue() -> Value {
            [
                "id": .string(id), "activity": .string(activity), "status": .string(status.rawValue),
                "assignees": ["users": .array(users.map(Value.string)), "groups": .array(groups.map(Value.string))],
                "due": due.reportValue,
            ]
        }
    }

    public var runID: String
    public var workflow: String
    public var version: String?
    public var definitionHash: String
    public var status: RunStatus
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var input: Value
    public var context: OrderedDictionary<String, Value>
    public var output: Value?
    public var error: ErrorInfo?
    /// In declaration order.
    public var activities: [ActivityEntry]
    /// In the order they ran; planned ones that never ran last, as `pending`.
    public var compensations: [CompensationEntry]
    public var tasks: [TaskEntry]
    /// How many events the run's journal holds.
    public var events: Int

    public init(
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

    public var durationMs: Int64? { Self.milliseconds(from: startedAt, to: finishedAt) }

    /// The JSON object of docs/cli.md.
    public func toValue() -> Value {
        [
            "run_id": .string(runID), "workflow": .string(workflow), "version": version.map(Value.string) ?? .null,
            "definition_hash": .string(definitionHash), "status": .string(status.rawValue),
            "started_at": startedAt.reportValue, "finished_at": finishedAt.reportValue,
            "duration_ms": durationMs.map { .int($0) } ?? .null, "input": input, "context": .object(context),
            "output": output ?? .null, "error": error?.toValue() ?? .null,
            "activities": .array(activities.map { $0.toValue() }),
            "compensations": .array(compensations.map { $0.toValue() }), "tasks": .array(tasks.map { $0.toValue() }),
            "events": .int(Int64(events)),
        ]
    }

    /// The same information for a person: a header, one line per activity (status, attempts,
    /// duration), then compensations, tasks and the error.
    public func renderText() -> String {
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

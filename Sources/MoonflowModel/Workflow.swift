import OrderedCollections

/// A validated workflow definition (docs/workflow-format.md), in its canonical form: seed-vocabulary shapes are
/// normalised, named policies resolved, `edges` merged into dependencies, sequential lists made
/// explicit, script bodies loaded. Locations are kept for messages but ignored by equality.
public struct Workflow: Sendable, Hashable {
    public var id: String
    /// The optional `version` label as written (a string, so `1.10` stays "1.10").
    public var version: String?
    public var description: String?
    public var triggers: [Trigger]
    /// JSON Schema of the run input.
    public var input: SchemaDefinition?
    /// Context variables with their defaults (`workflow.*` in Lua).
    public var context: OrderedDictionary<String, Value>
    /// Run output; `nil` means the sink activity's output (several sinks: an object by name).
    public var output: ValueTemplate?
    /// Whole-run deadline.
    public var timeout: Duration?
    public var errorHandling: ErrorHandling
    public var concurrency: ConcurrencyLimits?
    public var compensation: CompensationPolicy
    public var activities: [Activity]
    @IgnoredInEquality public var location: SourceLocation

    public init(
        id: String, version: String? = nil, description: String? = nil, triggers: [Trigger] = [.manual],
        input: SchemaDefinition? = nil, context: OrderedDictionary<String, Value> = [:], output: ValueTemplate? = nil,
        timeout: Duration? = nil, errorHandling: ErrorHandling = .init(), concurrency: ConcurrencyLimits? = nil,
        compensation: CompensationPolicy = .init(), activities: [Activity], location: SourceLocation = .unknown
    ) {
        self.id = id
        self.version = version
        self.description = description
        self.triggers = triggers
        self.input = input
        self.context = context
        self.output = output
        self.timeout = timeout
        self.errorHandling = errorHandling
        self.concurrency = concurrency
        self.compensation = compensation
        self.activities = activities
        self.location = location
    }

    public func activity(named name: String) -> Activity? { activities.first { $0.name == name } }

    /// Activities nothing depends on: their outputs make the default run output.
    public var sinks: [Activity] {
        let depended = Set(activities.flatMap { $0.dependencies.map(\.activity) })
        return activities.filter { !depended.contains($0.name) }
    }
}

/// How a run can start. `moonflow run` and the API can start any workflow by hand whatever its triggers.
public struct Trigger: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case manual
        /// An event type, and fields of the payload that must match (a list value = any of).
        case event(type: String, conditions: OrderedDictionary<String, Value>)
        /// A standard 5-field cron expression and an optional IANA time zone.
        case schedule(cron: String, timezone: String?)
    }

    public var kind: Kind
    /// Optional expression that must be true.
    public var when: Expression?
    /// Run input built from the event (default: the event payload).
    public var input: ValueTemplate?
    /// A key: a second event with the same key starts nothing.
    public var dedupe: Template?
    @IgnoredInEquality public var location: SourceLocation

    public init(
        _ kind: Kind, when: Expression? = nil, input: ValueTemplate? = nil, dedupe: Template? = nil,
        location: SourceLocation = .unknown
    ) {
        self.kind = kind
        self.when = when
        self.input = input
        self.dedupe = dedupe
        self.location = location
    }

    public static let manual = Trigger(.manual)
}

/// A JSON Schema used by a workflow, inline or loaded from `schemas/`.
public struct SchemaDefinition: Sendable, Hashable {
    /// The schema document (for a `$ref` to a file: that file's content).
    public var schema: Value
    /// Project-relative path of the file it came from (`schemas/ticket.json`), for a `$ref`.
    public var file: String?
    @IgnoredInEquality public var location: SourceLocation

    public init(schema: Value, file: String? = nil, location: SourceLocation = .unknown) {
        self.schema = schema
        self.file = file
        self.location = location
    }
}

/// `error_handling` (docs/workflow-format.md): defaults for every activity and what a failed run does.
public struct ErrorHandling: Sendable, Hashable {
    public enum Strategy: String, Sendable, Hashable { case compensate, fail }

    /// Retry for activities that declare none.
    public var retry: RetryPolicy?
    /// Fallback for activities that declare none.
    public var fallback: Fallback?
    /// `workflow_error.strategy`; `nil` = compensate when any activity declares `compensate`, else fail.
    public var strategy: Strategy?
    public var notification: Notification?

    public init(retry: RetryPolicy? = nil, fallback: Fallback? = nil, strategy: Strategy? = nil, notification: Notification? = nil) {
        self.retry = retry
        self.fallback = fallback
        self.strategy = strategy
        self.notification = notification
    }

    public struct Notification: Sendable, Hashable {
        public var channels: [String]
        public var recipients: [String]
        public init(channels: [String], recipients: [String]) {
            self.channels = channels
            self.recipients = recipients
        }
    }
}

/// `concurrency` (docs/resilience.md), per workflow or engine-wide.
public struct ConcurrencyLimits: Sendable, Hashable {
    public enum Strategy: String, Sendable, Hashable { case fifo, priority }
    public var maxWorkflows: Int?
    public var maxActivities: Int?
    public var strategy: Strategy
    public var queueTimeout: Duration?
    public var queueMaxSize: Int?

    public init(
        maxWorkflows: Int? = nil, maxActivities: Int? = nil, strategy: Strategy = .fifo, queueTimeout: Duration? = nil,
        queueMaxSize: Int? = nil
    ) {
        self.maxWorkflows = maxWorkflows
        self.maxActivities = maxActivities
        self.strategy = strategy
        self.queueTimeout = queueTimeout
        self.queueMaxSize = queueMaxSize
    }
}

/// `compensation` (docs/workflow-format.md).
public struct CompensationPolicy: Sendable, Hashable {
    public enum Strategy: String, Sendable, Hashable { case reverse, parallel }
    public enum OnError: String, Sendable, Hashable { case halt, `continue` }
    public var strategy: Strategy
    public var onError: OnError
    public var timeout: Duration?
    /// `compensation.activities` (seed): workflow-level compensation bodies, run once each when
    /// the run fails, after the per-activity compensations.
    public var activities: [WorkflowCompensation]

    public init(
        strategy: Strategy = .reverse, onError: OnError = .halt, timeout: Duration? = nil, activities: [WorkflowCompensation] = []
    ) {
        self.strategy = strategy
        self.onError = onError
        self.timeout = timeout
        self.activities = activities
    }
}

/// One entry of `compensation.activities`: a named body (found by name like an activity's).
public struct WorkflowCompensation: Sendable, Hashable {
    public var name: String
    public var handler: Handler
    public init(name: String, handler: Handler) {
        self.name = name
        self.handler = handler
    }
}

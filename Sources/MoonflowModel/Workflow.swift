package import OrderedCollections

/// A validated workflow definition (docs/workflow-format.md), in its canonical form: seed-vocabulary shapes are
/// normalised, named policies resolved, `edges` merged into dependencies, sequential lists made
/// explicit, script bodies loaded. Locations are kept for messages but ignored by equality.
package struct Workflow: Sendable, Hashable {
    package var id: String
    /// The optional `version` label as written (a string, so `1.10` stays "1.10").
    package var version: String?
    package var description: String?
    package var triggers: [Trigger]
    /// JSON Schema of the run input.
    package var input: SchemaDefinition?
    /// Context variables with their defaults (`workflow.*` in Lua).
    package var context: OrderedDictionary<String, Value>
    /// Run output; `nil` means the sink activity's output (several sinks: an object by name).
    package var output: ValueTemplate?
    /// Whole-run deadline.
    package var timeout: Duration?
    package var errorHandling: ErrorHandling
    package var concurrency: ConcurrencyLimits?
    package var compensation: CompensationPolicy
    package var activities: [Activity]
    @IgnoredInEquality package var location: SourceLocation

    package init(
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

    package func activity(named name: String) -> Activity? { activities.first { $0.name == name } }

    /// Activities nothing depends on: their outputs make the default run output.
    package var sinks: [Activity] {
        let depended = Set(activities.flatMap { $0.dependencies.map(\.activity) })
        return activities.filter { !depended.contains($0.name) }
    }
}

/// How a run can start. `moonflow run` and the API can start any workflow by hand whatever its triggers.
package struct Trigger: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        case manual
        /// An event type, and fields of the payload that must match (a list value = any of).
        case event(type: String, conditions: OrderedDictionary<String, Value>)
        /// A standard 5-field cron expression and an optional IANA time zone.
        case schedule(cron: String, timezone: String?)
    }

    package var kind: Kind
    /// Optional expression that must be true.
    package var when: Expression?
    /// Run input built from the event (default: the event payload).
    package var input: ValueTemplate?
    /// A key: a second event with the same key starts nothing.
    package var dedupe: Template?
    @IgnoredInEquality package var location: SourceLocation

    package init(
        _ kind: Kind, when: Expression? = nil, input: ValueTemplate? = nil, dedupe: Template? = nil,
        location: SourceLocation = .unknown
    ) {
        self.kind = kind
        self.when = when
        self.input = input
        self.dedupe = dedupe
        self.location = location
    }

    package static let manual = Trigger(.manual)
}

/// A JSON Schema used by a workflow, inline or loaded from `schemas/`.
package struct SchemaDefinition: Sendable, Hashable {
    /// The schema document (for a `$ref` to a file: that file's content).
    package var schema: Value
    /// Project-relative path of the file it came from (`schemas/ticket.json`), for a `$ref`.
    package var file: String?
    @IgnoredInEquality package var location: SourceLocation

    package init(schema: Value, file: String? = nil, location: SourceLocation = .unknown) {
        self.schema = schema
        self.file = file
        self.location = location
    }
}

/// `error_handling` (docs/workflow-format.md): defaults for every activity and what a failed run does.
package struct ErrorHandling: Sendable, Hashable {
    package enum Strategy: String, Sendable, Hashable { case compensate, fail }

    /// Retry for activities that declare none.
    package var retry: RetryPolicy?
    /// Fallback for activities that declare none.
    package var fallback: Fallback?
    /// `workflow_error.strategy`; `nil` = compensate when any activity declares `compensate`, else fail.
    package var strategy: Strategy?
    package var notification: Notification?

    package init(retry: RetryPolicy? = nil, fallback: Fallback? = nil, strategy: Strategy? = nil, notification: Notification? = nil) {
        self.retry = retry
        self.fallback = fallback
        self.strategy = strategy
        self.notification = notification
    }

    package struct Notification: Sendable, Hashable {
        package var channels: [String]
        package var recipients: [String]
        package init(channels: [String], recipients: [String]) {
            self.channels = channels
            self.recipients = recipients
        }
    }
}

/// `concurrency` (docs/resilience.md), per workflow or engine-wide.
package struct ConcurrencyLimits: Sendable, Hashable {
    package enum Strategy: String, Sendable, Hashable { case fifo, priority }
    package var maxWorkflows: Int?
    package var maxActivities: Int?
    package var strategy: Strategy
    package var queueTimeout: Duration?
    package var queueMaxSize: Int?

    package init(
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
package struct CompensationPolicy: Sendable, Hashable {
    package enum Strategy: String, Sendable, Hashable { case reverse, parallel }
    package enum OnError: String, Sendable, Hashable { case halt, `continue` }
    package var strategy: Strategy
    package var onError: OnError
    package var timeout: Duration?
    /// `compensation.activities` (seed): workflow-level compensation bodies, run once each when
    /// the run fails, after the per-activity compensations.
    package var activities: [WorkflowCompensation]

    package init(
        strategy: Strategy = .reverse, onError: OnError = .halt, timeout: Duration? = nil, activities: [WorkflowCompensation] = []
    ) {
        self.strategy = strategy
        self.onError = onError
        self.timeout = timeout
        self.activities = activities
    }
}

/// One entry of `compensation.activities`: a named body (found by name like an activity's).
package struct WorkflowCompensation: Sendable, Hashable {
    package var name: String
    package var handler: Handler
    package init(name: String, handler: Handler) {
        self.name = name
        self.handler = handler
    }
}

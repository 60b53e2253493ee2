import OrderedCollections

/// One activity of a workflow, with every policy resolved (docs/workflow-format.md, docs/resilience.md).
package struct Activity: Sendable, Hashable {
    package var name: String
    /// What must finish first. Seed-style lists (no `needs`, no `edges`) get the previous activity.
    package var dependencies: [Dependency]
    package var body: ActivityBody
    /// The activity input; `nil` means the run input.
    package var with: ValueTemplate?
    /// When false, the activity is skipped.
    package var when: Expression?
    /// One attempt, from bulkhead permit to end.
    package var timeout: Duration?
    /// All attempts, backoffs and queue waits.
    package var totalTimeout: Duration?
    /// `nil`: one attempt.
    package var retry: RetryPolicy?
    package var circuitBreaker: CircuitBreakerPolicy?
    package var bulkhead: BulkheadPolicy?
    package var fallback: Fallback?
    package var compensate: Compensation?
    /// Compensate this activity even when it failed (docs/workflow-format.md).
    package var compensateOnFailure: Bool
    package var inputSchema: SchemaDefinition?
    package var outputSchema: SchemaDefinition?
    /// Queue priority: low = -1, normal = 0, high = 1, or an integer.
    package var priority: Int
    package var limits: LimitOverrides
    package var description: String?
    @IgnoredInEquality package var location: SourceLocation

    package init(
        name: String, dependencies: [Dependency] = [], body: ActivityBody, with: ValueTemplate? = nil,
        when: Expression? = nil, timeout: Duration? = nil, totalTimeout: Duration? = nil, retry: RetryPolicy? = nil,
        circuitBreaker: CircuitBreakerPolicy? = nil, bulkhead: BulkheadPolicy? = nil, fallback: Fallback? = nil,
        compensate: Compensation? = nil, compensateOnFailure: Bool = false, inputSchema: SchemaDefinition? = nil,
        outputSchema: SchemaDefinition? = nil, priority: Int = 0, limits: LimitOverrides = .init(),
        description: String? = nil, location: SourceLocation = .unknown
    ) {
        self.name = name
        self.dependencies = dependencies
        self.body = body
        self.with = with
        self.when = when
        self.timeout = timeout
        self.totalTimeout = totalTimeout
        self.retry = retry
        self.circuitBreaker = circuitBreaker
        self.bulkhead = bulkhead
        self.fallback = fallback
        self.compensate = compensate
        self.compensateOnFailure = compensateOnFailure
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.priority = priority
        self.limits = limits
        self.description = description
        self.location = location
    }
}

/// A dependency on another activity; with `when` (from an edge) it is conditional: if false, the
/// target is skipped unless another incoming dependency is taken.
package struct Dependency: Sendable, Hashable {
    package var activity: String
    package var when: Expression?
    package init(_ activity: String, when: Expression? = nil) {
        self.activity = activity
        self.when = when
    }
}

/// What an activity (or a fallback or compensation) runs.
package indirect enum ActivityBody: Sendable, Hashable {
    /// Lua: inline `run:`, a `script:` file, or `scripts/<name>.lua` found by name. The chunk holds
    /// the loaded source, so a pinned definition carries its code.
    case lua(ScriptChunk)
    /// A built-in system function (`call:`).
    case builtin(Builtin)
    /// A human task.
    case manual(ManualTask)
    /// A child run of another workflow.
    case workflow(String)
}

/// The built-in system functions a `call:` names (docs/sandbox.md), in the order the loader lists them.
package enum Builtin: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case noop, log, emit, sleep, fail, set
    /// A request through one of moonflow.yaml's connections (docs/integrations.md).
    case http

    /// The name a `call:` gives.
    package var description: String { rawValue }
}

/// `type: manual` (docs/workflow-format.md).
package struct ManualTask: Sendable, Hashable {
    package var users: [String]
    package var groups: [String]
    package var form: SchemaDefinition?
    package var due: Duration?
    package var remind: [Duration]
    /// `on_timeout: {fallback: …}`: what happens at expiry besides `ManualTaskTimeout`.
    package var onTimeout: Fallback?
    /// `notify:`: the channels told when the task is assigned (docs/integrations.md).
    package var notify: [String]

    package init(
        users: [String] = [], groups: [String] = [], form: SchemaDefinition? = nil, due: Duration? = nil,
        remind: [Duration] = [], onTimeout: Fallback? = nil, notify: [String] = []
    ) {
        self.users = users
        self.groups = groups
        self.form = form
        self.due = due
        self.remind = remind
        self.onTimeout = onTimeout
        self.notify = notify
    }
}

/// `retry` (docs/resilience.md).
package struct RetryPolicy: Sendable, Hashable {
    package enum Jitter: String, Sendable, Hashable { case none, full }
    /// Counts the first attempt; ≥ 1.
    package var maxAttempts: Int
    package var initial: Duration
    /// ≥ 1.
    package var multiplier: Double
    package var max: Duration?
    package var jitter: Jitter
    /// Only these types are retried, when set.
    package var retryOn: [ErrorType]?
    package var nonRetryable: [ErrorType]
    /// Crash interruptions tolerated before the activity fails with `WorkerCrashed`.
    package var maxInterruptions: Int
    /// The policy's name under `policies.retry`, when it came from there.
    package var name: String?

    package init(
        maxAttempts: Int = 3, initial: Duration = .seconds(1), multiplier: Double = 2, max: Duration? = nil,
        jitter: Jitter = .none, retryOn: [ErrorType]? = nil, nonRetryable: [ErrorType] = [], maxInterruptions: Int = 3,
        name: String? = nil
    ) {
        self.maxAttempts = maxAttempts
        self.initial = initial
        self.multiplier = multiplier
        self.max = max
        self.jitter = jitter
        self.retryOn = retryOn
        self.nonRetryable = nonRetryable
        self.maxInterruptions = maxInterruptions
        self.name = name
    }

    /// The compensation default: 5 attempts, exponential (docs/workflow-format.md).
    package static let compensationDefault = RetryPolicy(maxAttempts: 5)
}

/// `circuit_breaker` (docs/resilience.md). Shared engine-wide by `name`.
package struct CircuitBreakerPolicy: Sendable, Hashable {
    /// The rate form: open when the failure rate over the last `window` calls reaches `failureRate`.
    package struct Rate: Sendable, Hashable {
        /// 0…1.
        package var failureRate: Double
        package var window: Int
        package var minimumCalls: Int
        package init(failureRate: Double, window: Int, minimumCalls: Int) {
            self.failureRate = failureRate
            self.window = window
            self.minimumCalls = minimumCalls
        }
    }

    /// A policy name, or `<workflow>/<activity>` for an inline block.
    package var name: String
    /// Consecutive failures that open it (count form).
    package var threshold: Int?
    package var rate: Rate?
    /// A call slower than this is aborted and recorded as a failure.
    package var timeout: Duration?
    /// How long it stays open.
    package var reset: Duration
    package var halfOpenMaxCalls: Int
    /// Error types not counted as failures.
    package var ignore: [ErrorType]

    package init(
        name: String, threshold: Int? = 5, rate: Rate? = nil, timeout: Duration? = nil, reset: Duration = .seconds(60),
        halfOpenMaxCalls: Int = 1, ignore: [ErrorType] = []
    ) {
        self.name = name
        self.threshold = threshold
        self.rate = rate
        self.timeout = timeout
        self.reset = reset
        self.halfOpenMaxCalls = halfOpenMaxCalls
        self.ignore = ignore
    }
}

/// `bulkhead` (docs/resilience.md). Shared engine-wide by `name`.
package struct BulkheadPolicy: Sendable, Hashable {
    package var name: String
    package var maxConcurrent: Int
    package var maxQueueSize: Int
    /// Longest queue wait (`BulkheadTimeout`).
    package var timeout: Duration?
    /// What a rejected caller does instead (seed vocabulary).
    package var fallback: Fallback?

    package init(name: String, maxConcurrent: Int, maxQueueSize: Int = 0, timeout: Duration? = nil, fallback: Fallback? = nil) {
        self.name = name
        self.maxConcurrent = maxConcurrent
        self.maxQueueSize = maxQueueSize
        self.timeout = timeout
        self.fallback = fallback
    }
}

/// `fallback` (docs/workflow-format.md).
package struct Fallback: Sendable, Hashable {
    package indirect enum Action: Sendable, Hashable {
        /// The activity becomes `skipped`; dependents run.
        case skip
        /// Runs once; its input is the original input plus `error`.
        case body(Handler)
        /// A fixed (templated) output.
        case output(ValueTemplate)
    }

    package var action: Action
    /// Emit an `activity.fallback` event.
    package var notify: Bool

    package init(_ action: Action, notify: Bool = false) {
        self.action = action
        self.notify = notify
    }
}

/// A body run on behalf of an activity: a fallback or a compensation.
package struct Handler: Sendable, Hashable {
    package var body: ActivityBody
    package var with: ValueTemplate?
    package var retry: RetryPolicy?
    package var timeout: Duration?
    /// A fallback's own compensation (docs/workflow-format.md); always `nil` inside a compensation.
    package var compensate: Compensation?
    @IgnoredInEquality package var location: SourceLocation

    package init(
        body: ActivityBody, with: ValueTemplate? = nil, retry: RetryPolicy? = nil, timeout: Duration? = nil,
        compensate: Compensation? = nil, location: SourceLocation = .unknown
    ) {
        self.body = body
        self.with = with
        self.retry = retry
        self.timeout = timeout
        self.compensate = compensate
        self.location = location
    }
}

/// `compensate` (docs/workflow-format.md): how to undo an activity. Retry defaults to 5 attempts, exponential.
package struct Compensation: Sendable, Hashable {
    // A fallback's handler may carry a compensation, whose handler is a `Handler` again: the
    // indirection breaks the otherwise infinite size.
    private indirect enum Storage: Sendable, Hashable { case handler(Handler) }
    private var storage: Storage

    package var handler: Handler {
        get { switch storage { case .handler(let h): h } }
        set { storage = .handler(newValue) }
    }

    package init(_ handler: Handler) { self.storage = .handler(handler) }
}

/// Per-activity sandbox limits (`limits:`) and isolation (`isolation:` of the activity, else of its
/// workflow); unset fields take the engine defaults.
package struct LimitOverrides: Sendable, Hashable {
    package var memory: Int?
    package var instructions: Int?
    package var outputSize: Int?
    package var isolation: ScriptIsolation?

    package init(memory: Int? = nil, instructions: Int? = nil, outputSize: Int? = nil, isolation: ScriptIsolation? = nil) {
        self.memory = memory
        self.instructions = instructions
        self.outputSize = outputSize
        self.isolation = isolation
    }

    package func applied(to base: ScriptLimits) -> ScriptLimits {
        var limits = base
        if let isolation { limits.isolation = isolation }
        if let memory { limits.memory = memory }
        if let instructions { limits.instructions = instructions }
        if let outputSize { limits.outputSize = outputSize }
        return limits
    }
}

/// Queue priorities (docs/workflow-format.md, docs/resilience.md): `low`, `normal`, `high`, or an integer in `range`; higher
/// goes first under `strategy: priority`.
package enum Priority {
    package static let levels: [String: Int] = ["low": -1, "normal": 0, "high": 1]
    package static let range = -1000...1000

    /// A level name or an integer in range; `nil` otherwise.
    package static func parse(_ text: String) -> Int? {
        if let level = levels[text] { return level }
        guard let number = Int(text), range.contains(number) else { return nil }
        return number
    }
}

import OrderedCollections

/// One case of `workflows/<id>.test.yaml`: a run with mocked activity outcomes, on a virtual
/// clock, and what it must end like (`moonflow test`).
public struct WorkflowTestCase: Sendable, Hashable {
    /// One attempt's scripted outcome: an output or an error, after an optional (virtual) delay.
    public struct MockOutcome: Sendable, Hashable {
        public var output: Value?
        public var error: ActivityFailure?
        public var delay: Duration?
        public init(output: Value? = nil, error: ActivityFailure? = nil, delay: Duration? = nil) {
            self.output = output
            self.error = error
            self.delay = delay
        }
    }

    /// A manual task completed by the test when the run waits on it.
    public struct TaskCompletion: Sendable, Hashable {
        public var data: Value
        public var user: String?
        public init(data: Value, user: String? = nil) {
            self.data = data
            self.user = user
        }
    }

    /// What the run must end like; unset fields are not checked.
    public struct Expectations: Sendable, Hashable {
        public var status: String?
        /// Activities in completion order (`seq`), fallback completions included.
        public var path: [String]?
        public var attempts: OrderedDictionary<String, Int>
        public var statuses: OrderedDictionary<String, String>
        /// Activities whose compensation ran, in the order it ran.
        public var compensations: [String]?
        public var output: Value?
        public var context: Value?
        public var errorType: String?

        public init(
            status: String? = nil, path: [String]? = nil, attempts: OrderedDictionary<String, Int> = [:],
            statuses: OrderedDictionary<String, String> = [:], compensations: [String]? = nil, output: Value? = nil,
            context: Value? = nil, errorType: String? = nil
        ) {
            self.status = status
            self.path = path
            self.attempts = attempts
            self.statuses = statuses
            self.compensations = compensations
            self.output = output
            self.context = context
            self.errorType = errorType
        }
    }

    public var name: String
    public var input: Value
    /// Activity name → outcome of attempt 1, 2, … (the last one repeats). `<name>.compensate` mocks
    /// the activity's compensation. Activities without mocks run their real body.
    public var mocks: [String: [MockOutcome]]
    public var tasks: [String: TaskCompletion]
    /// Inputs of runs driven to their end first, on the same engine and clock (unmocked bodies,
    /// the case's mocks apply): what they leave behind — an open circuit, a full bulkhead — is what
    /// the case's own run meets.
    public var earlierRuns: [Value] = []
    public var expect: Expectations
    @IgnoredInEquality public var location: SourceLocation

    public init(
        name: String, input: Value = .object([:]), mocks: [String: [MockOutcome]] = [:], tasks: [String: TaskCompletion] = [:],
        expect: Expectations = .init(), location: SourceLocation = .unknown
    ) {
        self.name = name
        self.input = input
        self.mocks = mocks
        self.tasks = tasks
        self.expect = expect
        self.location = location
    }
}

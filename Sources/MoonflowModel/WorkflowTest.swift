package import OrderedCollections

/// One case of `workflows/<id>.test.yaml`: a run with mocked activity outcomes, on a virtual
/// clock, and what it must end like (`moonflow test`).
package struct WorkflowTestCase: Sendable, Hashable {
    /// One attempt's scripted outcome: an output or an error, after an optional (virtual) delay.
    package struct MockOutcome: Sendable, Hashable {
        package var output: Value?
        package var error: ActivityFailure?
        package var delay: Duration?
        package init(output: Value? = nil, error: ActivityFailure? = nil, delay: Duration? = nil) {
            self.output = output
            self.error = error
            self.delay = delay
        }
    }

    /// A mocked answer to the requests made through `connection` with `method` to `path`
    /// (`call: http` and `http.request`); several for one route answer in turn, the last repeating.
    package struct HTTPMock: Sendable, Hashable {
        package var connection: String
        /// Uppercased.
        package var method: String
        /// Starts with `/`; the query is not compared.
        package var path: String
        package var response: HTTPCallResponse
        /// Virtual time before the answer.
        package var delay: Duration?

        package init(connection: String, method: String = "GET", path: String = "/", response: HTTPCallResponse, delay: Duration? = nil) {
            self.connection = connection
            self.method = method
            self.path = path
            self.response = response
            self.delay = delay
        }
    }

    /// A manual task completed by the test when the run waits on it.
    package struct TaskCompletion: Sendable, Hashable {
        package var data: Value
        package var user: String?
        package init(data: Value, user: String? = nil) {
            self.data = data
            self.user = user
        }
    }

    /// What the run must end like; unset fields are not checked.
    package struct Expectations: Sendable, Hashable {
        package var status: String?
        /// Activities in completion order (`seq`), fallback completions included.
        package var path: [String]?
        package var attempts: OrderedDictionary<String, Int>
        package var statuses: OrderedDictionary<String, String>
        /// Activities whose compensation ran, in the order it ran.
        package var compensations: [String]?
        package var output: Value?
        package var context: Value?
        package var errorType: String?

        package init(
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

    package var name: String
    package var input: Value
    /// Activity name → outcome of attempt 1, 2, … (the last one repeats). `<name>.compensate` mocks
    /// the activity's compensation. Activities without mocks run their real body.
    package var mocks: [String: [MockOutcome]]
    package var tasks: [String: TaskCompletion]
    /// Mocked services: a request no mock answers fails the case, naming it.
    package var http: [HTTPMock] = []
    /// Inputs of runs driven to their end first, on the same engine and clock (unmocked bodies,
    /// the case's mocks apply): what they leave behind — an open circuit, a full bulkhead — is what
    /// the case's own run meets.
    package var earlierRuns: [Value] = []
    package var expect: Expectations
    @IgnoredInEquality package var location: SourceLocation

    package init(
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

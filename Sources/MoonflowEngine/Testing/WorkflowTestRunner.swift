import Logging
package import MoonflowModel

/// The outcome of one `moonflow test` case.
package struct WorkflowTestResult: Sendable {
    package var name: String
    /// Every expectation that did not hold, as a sentence; empty when the case passed.
    package var failures: [String]
    package var report: ExecutionReport?
    package var passed: Bool { failures.isEmpty }
}

/// Runs a workflow's test cases (`workflows/<id>.test.yaml`) through the real engine, in memory,
/// on a virtual clock, with mocked services (`MockHTTP`): backoffs, timeouts, mocked delays, sleeps
/// and task deadlines take no real time. The clock moves to the next deadline only when no real code is executing, so a mocked
/// 2s delay against a 300ms timeout resolves in the order it would in real time.
package struct WorkflowTestRunner: Sendable {
    let runner: any ScriptRunning
    let validator: any SchemaValidating
    let catalog: (any WorkflowCatalog)?
    /// moonflow.yaml's `resources`: the sandbox defaults, as in a real run.
    let resources: ScriptLimits

    package init(
        runner: any ScriptRunning, validator: any SchemaValidating, catalog: (any WorkflowCatalog)? = nil,
        resources: ScriptLimits = .defaults
    ) {
        self.runner = runner
        self.validator = validator
        self.catalog = catalog
        self.resources = resources
    }

    /// Mock names that cannot apply: unknown activities, or bodies that are not Lua.
    package static func problems(of test: WorkflowTestCase, in workflow: Workflow) -> [String] {
        var problems: [String] = []
        for key in test.mocks.keys.sorted() {
            let name = key.hasSuffix(".compensate") ? String(key.dropLast(".compensate".count)) : key
            guard let activity = workflow.activity(named: name) else {
                problems.append("mocks '\(key)': '\(name)' is not an activity of \(workflow.id)")
                continue
            }
            if key.hasSuffix(".compensate") {
                if case .lua? = activity.compensate?.handler.body {} else {
                    problems.append("mocks '\(key)': '\(name)' has no Lua compensation to mock")
                }
            } else if case .lua = activity.body {} else {
                problems.append("mocks '\(key)': only Lua bodies can be mocked; '\(name)' is not one")
            }
        }
        for name in test.tasks.keys.sorted() {
            guard case .manual? = workflow.activity(named: name)?.body else {
                problems.append("tasks '\(name)': not a manual activity of \(workflow.id)")
                continue
            }
        }
        return problems
    }

    package func run(_ test: WorkflowTestCase, workflow: Workflow, definitionHash: String) async -> WorkflowTestResult {
        let problems = Self.problems(of: test, in: workflow)
        guard problems.isEmpty else { return WorkflowTestResult(name: test.name, failures: problems, report: nil) }
        let clock = ManualClock()
        let mocking = MockingRunner(real: runner, mocks: test.mocks, workflow: workflow, clock: clock)
        let http = MockHTTP(test.http, clock: clock)
        let engine = makeEngine(mocking, http, clock)
        do {
            try await runEarlierRuns(test, workflow: workflow, definitionHash: definitionHash, engine: engine, clock: clock, mocking: mocking)
            let runID = try await engine.start(workflow: workflow, definitionHash: definitionHash, input: test.input, runID: "test")
            var status = try await passingTime(clock, mocking) { try await engine.drive(runID) }
            // A waiting run: complete the tasks the test scripts, else let time reach the next timer.
            var rounds = 0
            while status == .waiting, rounds < 1000 {
                rounds += 1
                let report = try await engine.report(runID)
                if let task = report.tasks.first(where: { $0.status == .open && test.tasks[$0.activity] != nil }) {
                    let completion = test.tasks[task.activity]!
                    let user = TaskUser(completion.user ?? task.users.first ?? "test", groups: task.groups)
                    status = try await passingTime(clock, mocking) { try await engine.completeTask(task.id, data: completion.data, user: user) }
                } else if let next = try await engine.nextTimer(of: runID) {
                    clock.advance(to: next)
                    _ = try await passingTime(clock, mocking) { try await engine.fireDueTimers() }
                    status = try await engine.report(runID).status
                } else {
                    break
                }
            }
            let report = try await engine.report(runID)
            let unmocked = http.unmocked.map { "unmocked HTTP request: \($0)" }
            return WorkflowTestResult(name: test.name, failures: unmocked + Self.check(test.expect, against: report), report: report)
        } catch {
            return WorkflowTestResult(name: test.name, failures: ["the run could not be driven: \(error)"], report: nil)
        }
    }

    /// The case's engine: an in-memory store, the mocking runner, the virtual clock. (Not inlined
    /// into `run`: part of the shape that keeps Swift 6.3.1's optimiser from crashing, see
    /// `runEarlierRuns`.)
    @inline(never)
    private func makeEngine(_ mocking: MockingRunner, _ http: MockHTTP, _ clock: ManualClock) -> Engine {
        Engine(
            store: InMemoryRunStore(), runner: mocking, http: http, clock: clock, random: SeededRandomSource(seed: 42),
            logger: Logger(label: "moonflow.test", factory: { _ in SwiftLogNoOpLogHandler() }), validator: validator, catalog: catalog,
            resources: resources)
    }

    /// The case's `earlier_runs`, each driven to its end on the case's engine and clock, one
    /// call each. (Swift 6.3.1's optimiser crashed splitting the coroutine when this loop, or
    /// `makeEngine`, was inlined into `run` or the start and drive were inlined into the loop.)
    private func runEarlierRuns(
        _ test: WorkflowTestCase, workflow: Workflow, definitionHash: String, engine: Engine, clock: ManualClock, mocking: MockingRunner
    ) async throws {
        for (index, input) in test.earlierRuns.enumerated() {
            try await runEarlierRun(input, runID: "earlier-\(index + 1)", workflow: workflow, definitionHash: definitionHash, engine: engine, clock: clock, mocking: mocking)
        }
    }

    @inline(never)
    private func runEarlierRun(
        _ input: Value, runID: String, workflow: Workflow, definitionHash: String, engine: Engine, clock: ManualClock, mocking: MockingRunner
    ) async throws {
        let earlier = try await engine.start(workflow: workflow, definitionHash: definitionHash, input: input, runID: runID)
        _ = try await passingTime(clock, mocking) { try await engine.drive(earlier) }
    }

    /// Runs `operation` while moving the clock to the next deadline whenever every task is asleep
    /// on it and no real code is executing.
    private func passingTime<T: Sendable>(
        _ clock: ManualClock, _ runner: MockingRunner, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                var quiet = 0
                while !Task.isCancelled {
                    await Task.yield()
                    quiet = (!runner.busy && clock.sleeperCount > 0) ? quiet + 1 : 0
                    if quiet >= 50, let next = clock.nextDeadline {
                        clock.advance(to: next)
                        quiet = 0
                    }
                    if quiet > 10 { try? await Task.sleep(for: .microseconds(100)) }
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    static func check(_ expect: WorkflowTestCase.Expectations, against report: ExecutionReport) -> [String] {
        var failures: [String] = []
        func differs<V: Equatable>(_ what: String, _ expected: V?, _ actual: V, _ show: (V) -> String) {
            if let expected, expected != actual { failures.append("\(what): expected \(show(expected)), got \(show(actual))") }
        }
        differs("status", expect.status, report.status.rawValue) { $0 }
        let path = report.activities.filter { $0.seq != nil }.sorted { $0.seq! < $1.seq! }.map(\.name)
        differs("path", expect.path, path) { "[\($0.joined(separator: ", "))]" }
        for (name, attempts) in expect.attempts {
            let actual = report.activities.first { $0.name == name }?.attempts ?? 0
            if actual != attempts { failures.append("attempts of \(name): expected \(attempts), got \(actual)") }
        }
        for (name, status) in expect.statuses {
            let actual = report.activities.first { $0.name == name }?.status.rawValue ?? "absent"
            if actual != status { failures.append("status of \(name): expected \(status), got \(actual)") }
        }
        let undone = report.compensations.filter { $0.status == .completed }.map(\.activity)
        differs("compensations", expect.compensations, undone) { "[\($0.joined(separator: ", "))]" }
        differs("output", expect.output, report.output ?? .null) { $0.jsonString() }
        differs("context", expect.context, .object(report.context)) { $0.jsonString() }
        differs("error", expect.errorType, report.error?.type ?? "none") { $0 }
        return failures
    }
}

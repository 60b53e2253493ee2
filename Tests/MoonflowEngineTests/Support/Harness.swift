import Logging
import MoonflowEngine
import MoonflowModel
import Testing

/// An engine over an in-memory store, a manual clock and scripted bodies.
struct Harness {
    let clock = ManualClock()
    let store = InMemoryRunStore()
    let runner: ScriptedRunner
    let engine: Engine

    init(
        _ scripts: [String: ScriptBody] = [:], validator: any SchemaValidating = AcceptingValidator(),
        catalog: (any WorkflowCatalog)? = nil, limits: ConcurrencyLimits? = nil
    ) {
        runner = ScriptedRunner(scripts)
        engine = Engine(
            store: store, runner: runner, clock: clock, random: SeededRandomSource(seed: 7),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), validator: validator, catalog: catalog,
            limits: limits)
    }

    /// Starts and drives a run; then checks every journal of the store folds to its stored state.
    func run(_ workflow: Workflow, input: Value = [:], id: String = "run-1") async throws -> ExecutionReport {
        let runID = try await engine.start(workflow: workflow, definitionHash: "hash-\(workflow.id)", input: input, runID: id)
        _ = try await engine.drive(runID)
        try await expectJournalsFold()
        return try await engine.report(runID)
    }

    /// Like `run`, but time passes as soon as anything sleeps on the clock (backoffs), so retries
    /// happen without real waiting. Only for workflows without attempt timeouts, which would
    /// otherwise fire early.
    func runPassingTime(_ workflow: Workflow, input: Value = [:], id: String = "run-1") async throws -> ExecutionReport {
        let runID = try await engine.start(workflow: workflow, definitionHash: "hash-\(workflow.id)", input: input, runID: id)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await engine.drive(runID) }
            group.addTask {
                while !Task.isCancelled {
                    if let next = clock.nextDeadline { clock.advance(to: next) }
                    await Task.yield()
                }
            }
            try await group.next()
            group.cancelAll()
        }
        try await expectJournalsFold()
        return try await engine.report(runID)
    }

    /// The stored state of every run equals the fold of its journal (docs/durability.md).
    func expectJournalsFold() async throws {
        for state in try await store.runs(status: nil) {
            let journal = try await store.journal(of: state.id)
            #expect(RunState.folding(journal) == state, "run \(state.id): stored state differs from the fold of its journal")
            #expect(journal.count == state.journalLength)
        }
    }

    func journalTypes(_ runID: String = "run-1") async throws -> [String] {
        try await store.journal(of: runID).map(\.type.rawValue)
    }
}

/// A Lua activity whose body is the test script of the same name.
/// The source of a stand-in script (the harness runs a closure instead): it may read all of `steps`.
let standInSource = "-- a stand-in for a script that reads steps"

func lua(
    _ name: String, needs: [String] = [], with: ValueTemplate? = nil, when: String? = nil, retry: RetryPolicy? = nil,
    fallback: Fallback? = nil, compensate: String? = nil, compensateOnFailure: Bool = false
) -> Activity {
    Activity(
        name: name, dependencies: needs.map { Dependency($0) }, body: .lua(ScriptChunk(source: standInSource, name: name)), with: with,
        when: when.map { Expression($0) }, retry: retry, fallback: fallback,
        compensate: compensate.map { Compensation(Handler(body: .lua(ScriptChunk(source: standInSource, name: $0)))) },
        compensateOnFailure: compensateOnFailure)
}

/// Seed style: each activity depends on the previous one, as the loader makes it explicit.
func sequential(_ activities: [Activity]) -> [Activity] {
    var result = activities
    for index in result.indices.dropFirst() where result[index].dependencies.isEmpty {
        result[index].dependencies = [Dependency(result[index - 1].name)]
    }
    return result
}

func expr(_ source: String) -> ValueTemplate { .template(Template(parts: [.expression(Expression(source))])) }

func failing(_ type: ErrorType = .activityError, _ message: String = "boom") -> ScriptBody {
    { _ throws(ActivityFailure) in throw ActivityFailure(type, message) }
}

func returning(_ output: Value, writes: [String: Value] = [:]) -> ScriptBody {
    { _ in ScriptOutcome(output: output, contextWrites: .init(uniqueKeysWithValues: writes.sorted { $0.key < $1.key })) }
}

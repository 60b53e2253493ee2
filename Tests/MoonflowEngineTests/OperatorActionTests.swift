import MoonflowEngine
import MoonflowModel
import Synchronization
import Testing

/// Pause and unpause, breakpoints and steps, redrive and rerun (docs/operations.md), on the engine.
@Suite(.timeLimit(.minutes(1))) struct OperatorActionTests {
    /// Three steps, each writing its name into the context.
    static let abc = Workflow(id: "abc", activities: sequential([lua("a"), lua("b"), lua("c")]))
    static let writers: [String: ScriptBody] = [
        "a": returning(["n": 1], writes: ["last": "a"]), "b": returning(["n": 2], writes: ["last": "b"]),
        "c": returning(["n": 3], writes: ["last": "c"]),
    ]

    @Test func aBreakpointPausesBeforeItsActivityAndContinueStepsOneAtATime() async throws {
        let h = Harness(Self.writers)
        let id = try await h.engine.start(
            PinnedWorkflow(workflow: Self.abc, hash: "h"), input: [:], runID: "run-1", breakBefore: ["b"])
        #expect(try await h.engine.drive(id) == .paused)
        var report = try await h.engine.report(id)
        #expect(report.activities.map(\.status) == [.completed, .pending, .pending])
        #expect(report.pauseReason == "breakpoint" && report.pausedBefore == "b")
        #expect(report.context["last"] == "a")

        // One step: b runs, the run pauses before c.
        #expect(try await h.engine.unpause(id, step: true) == .paused)
        report = try await h.engine.report(id)
        #expect(report.activities.map(\.status) == [.completed, .completed, .pending])
        #expect(report.pauseReason == "step" && report.pausedBefore == "c")
        #expect(h.runner.executions == ["a#1", "b#1"])

        #expect(try await h.engine.unpause(id) == .completed)
        #expect(h.runner.executions == ["a#1", "b#1", "c#1"])
        let types = try await h.journalTypes()
        #expect(types.filter { $0 == "run.paused" }.count == 2)
        #expect(types.filter { $0 == "run.unpaused" }.count == 2)
        try await h.expectJournalsFold()
    }

    @Test func aBreakpointOnAnUnknownActivityStartsNothing() async throws {
        let h = Harness(Self.writers)
        await #expect(throws: EngineError.unknownActivity(workflow: "abc", activity: "zz")) {
            try await h.engine.start(PinnedWorkflow(workflow: Self.abc, hash: "h"), input: [:], runID: "run-1", breakBefore: ["zz"])
        }
        #expect(try await h.store.runs(status: nil).isEmpty)
    }

    @Test func aPausedRunLetsItsTimerFireAtItsTimeAndStartsNothingUntilUnpaused() async throws {
        let h = Harness()
        let workflow = Workflow(
            id: "nap",
            activities: sequential([Activity(name: "nap", body: .builtin(.sleep), with: .value(["duration": "60s"])), lua("after")]))
        let report = try await h.run(workflow)
        #expect(report.status == .waiting)
        let due = try #require(try await h.engine.nextTimer(of: "run-1"))
        #expect(try await h.engine.pause("run-1") == .paused)
        // The timer keeps its time.
        #expect(try await h.engine.nextTimer(of: "run-1") == due)
        h.clock.advance(to: due)
        #expect(try await h.engine.fireDueTimers() == ["run-1"])
        var after = try await h.engine.report("run-1")
        #expect(after.status == .paused)
        #expect(after.activities.map(\.status) == [.completed, .pending])
        #expect(h.runner.executions.isEmpty)

        #expect(try await h.engine.unpause("run-1") == .completed)
        after = try await h.engine.report("run-1")
        #expect(after.activities.map(\.status) == [.completed, .completed])
        #expect(h.runner.executions == ["after#1"])
        try await h.expectJournalsFold()
    }

    @Test func actionsTheStateDoesNotAllowAreRefusedAndChangeNothing() async throws {
        let h = Harness(Self.writers)
        #expect(try await h.run(Self.abc).status == .completed)
        let length = try await h.store.journal(of: "run-1").count
        await #expect(throws: EngineError.self) { try await h.engine.pause("run-1") }
        await #expect(throws: EngineError.self) { try await h.engine.unpause("run-1") }
        await #expect(throws: EngineError.self) { try await h.engine.redrive("run-1") }
        await #expect(throws: EngineError.unknownRun("nope")) { try await h.engine.pause("nope") }
        #expect(try await h.store.journal(of: "run-1").count == length)
    }

    @Test func redriveKeepsCompletedStepsAndRunsTheFailedOneWithFreshAttempts() async throws {
        let fixed = Flag()
        let h = Harness([
            "a": returning(["n": 1], writes: ["last": "a"]),
            "b": { _ throws(ActivityFailure) in
                guard fixed.isSet else { throw ActivityFailure(.activityError, "bug", retryable: false) }
                return ScriptOutcome(output: ["n": 2])
            },
        ])
        let workflow = Workflow(id: "ab", activities: sequential([lua("a"), lua("b"), lua("c")]))
        #expect(try await h.run(workflow).status == .failed)
        // Still broken: it fails again, and can be redriven again.
        #expect(try await h.engine.redrive("run-1") == .failed)
        fixed.set()
        #expect(try await h.engine.redrive("run-1") == .completed)
        let report = try await h.engine.report("run-1")
        #expect(report.activities.map(\.attempts) == [1, 1, 1])
        #expect(h.runner.executions == ["a#1", "b#1", "b#1", "b#1", "c#1"])
        #expect(report.context["last"] == "a")
        let types = try await h.journalTypes()
        #expect(types.filter { $0 == "run.redriven" }.count == 2)
        #expect(types.filter { $0 == "activity.completed" }.count == 3)
        try await h.expectJournalsFold()
    }

    @Test func rerunFromAMiddleStepAdoptsWhatCameBeforeWithoutExecutingIt() async throws {
        let h = Harness(Self.writers)
        #expect(try await h.run(Self.abc, input: ["x": 1]).status == .completed)
        let rerun = try await h.engine.rerun("run-1", from: "b")
        #expect(rerun.created && rerun.runID != "run-1")
        #expect(try await h.engine.drive(rerun.runID) == .completed)
        #expect(h.runner.executions == ["a#1", "b#1", "c#1", "b#1", "c#1"])
        let state = try #require(try await h.store.state(of: rerun.runID))
        #expect(state.rerunOf == RerunSource(runID: "run-1", from: "b"))
        #expect(state.input == ["x": 1])
        #expect(state.activities["a"]?.output == ["n": 1])
        let journal = try await h.store.journal(of: rerun.runID)
        #expect(!journal.contains { $0.activity == "a" && $0.type == .activityStarted })
        #expect(try await h.engine.report(rerun.runID).rerunOf == "run-1")

        await #expect(throws: EngineError.unknownActivity(workflow: "abc", activity: "zz")) { try await h.engine.rerun("run-1", from: "zz") }
        try await h.expectJournalsFold()
    }
}

/// A switch a script body reads: the "fix" of a test.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

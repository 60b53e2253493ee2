import MoonflowEngine
import MoonflowModel
import Synchronization
import Testing

/// Run admission wired into the engine (docs/resilience.md): `max_workflows` per workflow and engine-wide,
/// the durable FIFO/priority queue, `QueueFull`, `QueueTimeout`, the engine-wide `max_activities`.
@Suite(.timeLimit(.minutes(1))) struct RunQueueTests {
    /// One gate per run (by the input's `n`): a run's only activity blocks until its gate opens.
    final class Gates: Sendable {
        private let gates = Mutex<[Int64: Gate]>([:])
        func gate(_ n: Int64) -> Gate {
            gates.withLock { gates in
                if let gate = gates[n] { return gate }
                let gate = Gate()
                gates[n] = gate
                return gate
            }
        }
        var body: ScriptBody {
            { invocation in
                await self.gate(invocation.input["n"]?.intValue ?? 0).wait()
                return ScriptOutcome(output: invocation.input)
            }
        }
    }

    /// What the engine hands to its dispatcher, in order.
    final class Admitted: Sendable {
        let ids = Mutex<[RunID]>([])
        init(_ engine: Engine) { engine.onAdmission { id in self.ids.withLock { $0.append(id) } } }
        var list: [RunID] { ids.withLock { $0 } }
    }

    func workflow(_ limits: ConcurrencyLimits?, id: String = "w") -> Workflow {
        Workflow(id: id, concurrency: limits, activities: [lua("step")])
    }

    func start(_ h: Harness, _ workflow: Workflow, _ id: String, n: Int64, priority: Int = 0) async throws {
        _ = try await h.engine.start(workflow: workflow, definitionHash: "hash-\(workflow.id)", input: ["n": .int(n)], runID: id, priority: priority)
    }

    /// Drives `id` in the background; returns when its body is running.
    func driveBlocked(_ h: Harness, _ id: String, executions: Int) async -> Task<RunStatus, any Error> {
        let task = Task { try await h.engine.drive(id) }
        await waitUntil("\(id) runs") { h.runner.executions.count >= executions }
        return task
    }

    @Test func runsBeyondMaxWorkflowsQueueAndStartInOrderAsSlotsFree() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body])
        let admitted = Admitted(h.engine)
        let w = workflow(ConcurrencyLimits(maxWorkflows: 2))
        for n in 1...4 { try await start(h, w, "r\(n)", n: Int64(n)) }
        let r1 = await driveBlocked(h, "r1", executions: 1)
        let r2 = await driveBlocked(h, "r2", executions: 2)
        #expect(try await h.engine.drive("r3") == .queued)
        #expect(try await h.engine.drive("r4") == .queued)
        #expect(try await h.engine.report("r3").status == .queued)
        #expect(try await h.engine.runQueue().queued.map(\.runID) == ["r3", "r4"])
        #expect(!(try await h.journalTypes("r3")).contains("run.started"))

        gates.gate(1).open()
        #expect(try await r1.value == .completed)
        #expect(admitted.list == ["r3"], "r1's slot goes to the oldest queued run")
        gates.gate(3).open()
        #expect(try await h.engine.drive("r3") == .completed)
        #expect(admitted.list == ["r3", "r4"])
        gates.gate(2).open()
        gates.gate(4).open()
        #expect(try await r2.value == .completed)
        #expect(try await h.engine.drive("r4") == .completed)
        #expect(h.runner.executions == ["step#1", "step#1", "step#1", "step#1"])
        #expect(try await h.engine.runQueue().totalRunning == 0)
        try await h.expectJournalsFold()
    }

    @Test func priorityStrategyAdmitsHigherFirstThenInArrivalOrder() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body])
        let admitted = Admitted(h.engine)
        let w = workflow(ConcurrencyLimits(maxWorkflows: 1, strategy: .priority))
        try await start(h, w, "first", n: 0)
        let first = await driveBlocked(h, "first", executions: 1)
        for (id, priority) in [("low", -1), ("high", 1), ("normal", 0), ("high2", 1)] {
            try await start(h, w, id, n: 1, priority: priority)
            #expect(try await h.engine.drive(id) == .queued)
        }
        #expect(try await h.store.state(of: "high")?.priority == 1)
        gates.gate(1).open()
        gates.gate(0).open()
        #expect(try await first.value == .completed)
        // Each admitted run is driven to its end, which admits the next (what the dispatcher does).
        var driven = 0
        while driven < admitted.list.count {
            #expect(try await h.engine.drive(admitted.list[driven]) == .completed)
            driven += 1
        }
        #expect(admitted.list == ["high", "high2", "normal", "low"])
        try await h.expectJournalsFold()
    }

    @Test func pastMaxSizeTheRunFailsWithQueueFullAndNeverStarts() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body])
        let w = workflow(ConcurrencyLimits(maxWorkflows: 1, queueMaxSize: 1))
        try await start(h, w, "r1", n: 1)
        let r1 = await driveBlocked(h, "r1", executions: 1)
        try await start(h, w, "r2", n: 2)
        try await start(h, w, "r3", n: 3)
        let refused = try await h.engine.report("r3")
        #expect(refused.status == .failed)
        #expect(refused.error?.type == "QueueFull")
        #expect(refused.error?.message.contains("max_size") == true)
        #expect(try await h.journalTypes("r3") == ["run.queued", "run.failing", "run.failed"])
        #expect(try await h.engine.drive("r3") == .failed)
        // A start with the refused run's id changes nothing.
        try await start(h, w, "r3", n: 3)
        #expect(try await h.journalTypes("r3").count == 3)
        gates.gate(1).open()
        gates.gate(2).open()
        #expect(try await r1.value == .completed)
        #expect(try await h.engine.drive("r2") == .completed)
        try await h.expectJournalsFold()
    }

    @Test func aQueuedRunFailsWithQueueTimeoutAtItsStoredDeadline() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body], limits: ConcurrencyLimits(queueTimeout: .seconds(60)))
        let admitted = Admitted(h.engine)
        let w = workflow(ConcurrencyLimits(maxWorkflows: 1, queueTimeout: .seconds(30)))
        try await start(h, w, "r1", n: 1)
        let r1 = await driveBlocked(h, "r1", executions: 1)
        try await start(h, w, "r2", n: 2)
        #expect(try await h.engine.drive("r2") == .queued)
        let deadline = h.clock.now + .seconds(30)
        #expect(try await h.engine.nextTimer(of: "r2") == deadline)
        h.clock.advance(to: deadline - .nanoseconds(1))
        #expect(try await h.engine.fireDueTimers().isEmpty)
        h.clock.advance(to: deadline)
        #expect(try await h.engine.fireDueTimers() == ["r2"])
        let report = try await h.engine.report("r2")
        #expect(report.status == .failed)
        #expect(report.error?.type == "QueueTimeout")
        #expect(!(try await h.journalTypes("r2")).contains("run.started"))
        #expect(try await h.engine.runQueue().queued.isEmpty)
        gates.gate(1).open()
        #expect(try await r1.value == .completed)
        #expect(admitted.list.isEmpty)
        try await h.expectJournalsFold()
    }

    @Test func aCancelledQueuedRunLeavesTheQueueWithoutStarting() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body])
        let admitted = Admitted(h.engine)
        let w = workflow(ConcurrencyLimits(maxWorkflows: 1))
        try await start(h, w, "r1", n: 1)
        let r1 = await driveBlocked(h, "r1", executions: 1)
        try await start(h, w, "r2", n: 2)
        try await start(h, w, "r3", n: 3)
        #expect(try await h.engine.cancel("r2") == .cancelled)
        #expect(try await h.journalTypes("r2") == ["run.queued", "run.failing", "run.cancelled"])
        gates.gate(1).open()
        #expect(try await r1.value == .completed)
        #expect(admitted.list == ["r3"])
        try await h.expectJournalsFold()
    }

    @Test func theEngineWideLimitCountsRunsOfEveryWorkflow() async throws {
        let gates = Gates()
        let h = Harness(["step": gates.body], limits: ConcurrencyLimits(maxWorkflows: 1))
        let admitted = Admitted(h.engine)
        try await start(h, workflow(nil, id: "a"), "a1", n: 1)
        let a1 = await driveBlocked(h, "a1", executions: 1)
        try await start(h, workflow(nil, id: "b"), "b1", n: 2)
        #expect(try await h.engine.drive("b1") == .queued)
        gates.gate(1).open()
        gates.gate(2).open()
        #expect(try await a1.value == .completed)
        #expect(admitted.list == ["b1"])
        #expect(try await h.engine.drive("b1") == .completed)
    }

    @Test func aRunWaitingOnAHumanGivesBackItsSlot() async throws {
        let h = Harness()
        let w = Workflow(
            id: "approval", concurrency: ConcurrencyLimits(maxWorkflows: 1),
            activities: [Activity(name: "approve", body: .manual(ManualTask(users: ["alice"])))])
        for id in ["r1", "r2"] {
            _ = try await h.engine.start(workflow: w, definitionHash: "hash", input: [:], runID: id)
            #expect(try await h.engine.drive(id) == .waiting)
        }
        #expect(try await h.engine.runQueue().totalRunning == 0)
        for id in ["r1", "r2"] {
            #expect(try await h.engine.completeTask("\(id):approve:1", data: ["ok": true], user: TaskUser("alice")) == .completed)
        }
        #expect(try await h.engine.runQueue().totalRunning == 0)
        try await h.expectJournalsFold()
    }

    @Test func theEngineWideMaxActivitiesRunsActivitiesOfAllRunsOneAtATime() async throws {
        let h = Harness(["step": { _ in await Task.yield(); return ScriptOutcome(output: 1) }], limits: ConcurrencyLimits(maxActivities: 1))
        let w = Workflow(id: "fan", activities: (1...4).map { Activity(name: "s\($0)", body: .lua(ScriptChunk(source: "", name: "step"))) })
        for id in ["r1", "r2"] { _ = try await h.engine.start(workflow: w, definitionHash: "hash", input: [:], runID: id) }
        async let first = h.engine.drive("r1")
        async let second = h.engine.drive("r2")
        #expect(try await [first, second] == [.completed, .completed])
        #expect(h.runner.executions.count == 8)
        #expect(h.runner.maxConcurrent == 1)
    }
}

/// `compensation.timeout` (docs/workflow-format.md).
@Suite(.timeLimit(.minutes(1))) struct CompensationTimeoutTests {
    @Test func theTimeoutStopsTheRunningCompensationAndLeavesTheRestPending() async throws {
        let stuck = Mutex(true)
        let undone = Mutex<[String]>([])
        let h = Harness([
            "fail": failing(.init("Declined")),
            "undo_a": { _ in
                undone.withLock { $0.append("undo_a") }
                return ScriptOutcome(output: .null)
            },
            "undo_b": { _ throws(ActivityFailure) in
                if stuck.withLock({ $0 }) {
                    try? await Task.sleep(for: .seconds(30))
                    throw ActivityFailure(.cancelled, "stopped")
                }
                undone.withLock { $0.append("undo_b") }
                return ScriptOutcome(output: .null)
            },
        ])
        let workflow = Workflow(
            id: "saga", compensation: CompensationPolicy(timeout: .seconds(5)),
            activities: sequential([lua("a", compensate: "undo_a"), lua("b", compensate: "undo_b"), lua("fail")]))
        _ = try await h.engine.start(workflow: workflow, definitionHash: "hash", input: [:], runID: "run-1")
        let drive = Task { try await h.engine.drive("run-1") }
        await waitUntil("undo_b runs and the deadline sleeps") { h.clock.sleeperCount > 0 }
        let started = try #require(try await h.store.state(of: "run-1"))
        #expect(started.compensationDeadline == h.clock.now + .seconds(5))
        h.clock.advance(by: .seconds(5))
        #expect(try await drive.value == .compensationFailed)
        let report = try await h.engine.report("run-1")
        #expect(report.error?.type == "Declined", "the run's error stays the cause of the compensation")
        #expect(report.compensations.map(\.activity) == ["b", "a"])
        #expect(report.compensations.map(\.status) == [.failed, .pending])
        #expect(report.compensations.first?.error?.type == "Timeout")
        #expect(undone.withLock { $0 }.isEmpty)

        // Resuming gets a fresh deadline; the stopped one runs again, then the pending one.
        stuck.withLock { $0 = false }
        #expect(try await h.engine.resumeCompensation("run-1") == .compensated)
        #expect(undone.withLock { $0 } == ["undo_b", "undo_a"])
        #expect(try await h.store.state(of: "run-1")?.compensationDeadline == h.clock.now + .seconds(5))
        try await h.expectJournalsFold()
    }
}

import MoonflowEngine
import MoonflowModel
import Testing

@Suite("Run admission and queue (docs/resilience.md)")
struct RunAdmissionTests {
    typealias Machine = RunAdmissionMachine

    /// Submits runs `names` of `workflow` in order; returns the decisions.
    func submit(_ machine: inout Machine, _ names: [String], workflow: String = "w", limits: ConcurrencyLimits?,
                priorities: [Int]? = nil, now: Timestamp = t0) -> [Machine.Decision] {
        names.enumerated().map { i, name in
            machine.submit(runID: name, workflow: workflow, limits: limits, priority: priorities?[i] ?? 0, now: now)
        }
    }

    @Test("runs within max_workflows start; the rest queue FIFO and start as runs finish")
    func fifo() {
        var machine = Machine(engineLimits: nil)
        let limits = ConcurrencyLimits(maxWorkflows: 2)
        let decisions = submit(&machine, ["a", "b", "c", "d"], limits: limits)
        #expect(decisions[0] == .start && decisions[1] == .start)
        #expect(decisions[2] == .queued(RunQueueEntry(runID: "c", workflow: "w", priority: 0, sequence: 1, enqueuedAt: t0, deadline: nil)))
        #expect(machine.finished(runID: "a").map(\.runID) == ["c"])
        #expect(machine.finished(runID: "a").isEmpty, "a run that ends twice frees one slot")
        #expect(machine.finished(runID: "b").map(\.runID) == ["d"])
        #expect(machine.finished(runID: "c").isEmpty)
        #expect(machine.snapshot.totalRunning == 1)
        #expect(machine.submit(runID: "d", workflow: "w", limits: limits, priority: 0, now: t0) == .duplicate)
    }

    @Test("priority strategy: higher first, ties in enqueue order")
    func priority() {
        var machine = Machine(engineLimits: nil)
        let limits = ConcurrencyLimits(maxWorkflows: 1, strategy: .priority)
        _ = submit(&machine, ["running", "low", "high1", "normal", "high2"], limits: limits, priorities: [0, -1, 1, 0, 1])
        var order: [String] = []
        var current = "running"
        while let next = machine.finished(runID: current).first {
            order.append(next.runID)
            current = next.runID
        }
        #expect(order == ["high1", "high2", "normal", "low"])
    }

    @Test("QueueFull past the workflow's max_size and past the engine's")
    func queueFull() {
        var machine = Machine(engineLimits: ConcurrencyLimits(maxWorkflows: 10, queueMaxSize: 3))
        let limits = ConcurrencyLimits(maxWorkflows: 1, queueMaxSize: 2)
        let own = submit(&machine, ["a", "b", "c", "d"], limits: limits)
        guard case .rejected(let failure) = own[3] else {
            Issue.record("expected QueueFull")
            return
        }
        #expect(failure.type == .queueFull)
        let other = submit(&machine, ["x", "y", "z"], workflow: "v", limits: ConcurrencyLimits(maxWorkflows: 1))
        #expect(other[0] == .start)
        #expect(other[1].isQueued)
        guard case .rejected(let engineFull) = other[2] else {
            Issue.record("expected QueueFull from the engine-wide queue")
            return
        }
        #expect(engineFull.type == .queueFull)
    }

    @Test("the queue deadline is the earlier of the workflow's and the engine's timeout; a run leaving the queue frees its place")
    func queueDeadline() {
        var machine = Machine(engineLimits: ConcurrencyLimits(queueTimeout: .seconds(60)))
        let limits = ConcurrencyLimits(maxWorkflows: 1, queueTimeout: .seconds(30))
        _ = submit(&machine, ["a"], limits: limits)
        guard case .queued(let b) = submit(&machine, ["b"], limits: limits, now: t0 + .seconds(1))[0] else {
            Issue.record("expected to queue")
            return
        }
        #expect(b.deadline == t0 + .seconds(31))
        #expect(machine.isWaiting("b"))
        #expect(machine.finished(runID: "b").isEmpty, "b timed out: it leaves the queue, a keeps its slot")
        #expect(!machine.isWaiting("b"))
        #expect(machine.snapshot.totalRunning == 1)
        var unlimited = Machine(engineLimits: nil)
        guard case .queued(let c) = submit(&unlimited, ["x", "c"], limits: ConcurrencyLimits(maxWorkflows: 1))[1] else {
            Issue.record("expected to queue")
            return
        }
        #expect(c.deadline == nil)
    }

    @Test("a full workflow does not hold back another workflow's runs under the engine-wide limit")
    func noHeadOfLineBlocking() {
        var machine = Machine(engineLimits: ConcurrencyLimits(maxWorkflows: 2))
        #expect(submit(&machine, ["a1"], workflow: "a", limits: ConcurrencyLimits(maxWorkflows: 1)) == [.start])
        #expect(submit(&machine, ["a2"], workflow: "a", limits: ConcurrencyLimits(maxWorkflows: 1))[0].isQueued)
        #expect(submit(&machine, ["b1"], workflow: "b", limits: nil) == [.start])
        #expect(submit(&machine, ["b2"], workflow: "b", limits: nil)[0].isQueued)
        // b1 ends: a2 is older but workflow a is full, so b2 takes the engine slot.
        #expect(machine.finished(runID: "b1").map(\.runID) == ["b2"])
        #expect(machine.finished(runID: "a1").map(\.runID) == ["a2"])
    }

    @Test("rebuilt from stored entries in any order, the queue keeps its order and its sequence")
    func rebuild() {
        var original = Machine(engineLimits: nil)
        let limits = ConcurrencyLimits(maxWorkflows: 1, strategy: .priority, queueTimeout: .seconds(30))
        let decisions = submit(&original, ["r", "a", "b", "c", "d"], limits: limits, priorities: [0, 0, 5, 0, 5])
        let stored = decisions.compactMap { if case .queued(let e) = $0 { e } else { nil } }
        var rebuilt = Machine(
            engineLimits: nil, workflowLimits: ["w": limits], holders: ["r": "w"], queued: stored.reversed())
        #expect(rebuilt.snapshot.queued == original.snapshot.queued)
        #expect(rebuilt.admitWaiting().isEmpty)
        // New runs continue the sequence after the stored ones.
        guard case .queued(let e) = rebuilt.submit(runID: "e", workflow: "w", limits: limits, priority: 5, now: t0) else {
            Issue.record("expected to queue")
            return
        }
        #expect(e.sequence == 5)
        var order: [String] = []
        var current = "r"
        while let next = rebuilt.finished(runID: current).first {
            order.append(next.runID)
            current = next.runID
        }
        #expect(order == ["b", "d", "e", "a", "c"])
    }

    @Test("after a rebuild with raised limits, waiting runs start at once")
    func rebuildAdmits() {
        let entries = (1...3).map {
            RunQueueEntry(runID: "q\($0)", workflow: "w", priority: 0, sequence: UInt64($0), enqueuedAt: t0, deadline: nil)
        }
        var machine = Machine(engineLimits: nil, workflowLimits: ["w": ConcurrencyLimits(maxWorkflows: 3)], holders: ["r": "w"], queued: entries)
        #expect(machine.admitWaiting().map(\.runID) == ["q1", "q2"])
        #expect(machine.isWaiting("q3"))
        #expect(machine.update(workflow: "w", limits: ConcurrencyLimits(maxWorkflows: 4)).map(\.runID) == ["q3"])
    }

    @Test("the shared wrapper reads the clock for queue deadlines")
    func wrapper() {
        let clock = ManualClock()
        let admission = RunAdmission(machine: Machine(engineLimits: ConcurrencyLimits(maxWorkflows: 1, queueTimeout: .seconds(5))), clock: clock)
        #expect(admission.submit(runID: "a", workflow: "w", limits: nil, priority: 0) == .start)
        clock.advance(by: .seconds(2))
        guard case .queued(let b) = admission.submit(runID: "b", workflow: "w", limits: nil, priority: 0) else {
            Issue.record("expected to queue")
            return
        }
        #expect(b.enqueuedAt == clock.now && b.deadline == clock.now + .seconds(5))
        #expect(admission.finished(runID: "a").map(\.runID) == ["b"])
        #expect(admission.snapshot().totalRunning == 1)
    }
}

extension RunAdmissionMachine.Decision {
    var isQueued: Bool { if case .queued = self { true } else { false } }
}

import MoonflowEngine
import MoonflowModel
import Testing

/// The pure scheduler, driven as sequences of journal events with no I/O.
@Suite struct RunSchedulerTests {
    let diamond = Workflow(
        id: "diamond", activities: [lua("a"), lua("b", needs: ["a"]), lua("c", needs: ["a"]), lua("d", needs: ["b", "c"])])

    func queued(_ workflow: Workflow) -> RunState {
        let event = RunEvent(
            .runQueued(QueuedRun(definitionHash: "", input: [:], activities: workflow.activities.map(\.name))), runID: "r",
            workflow: workflow.id, at: Timestamp(nanosecondsSinceEpoch: 0))
        return RunState(queuedBy: event)!
    }

    func apply(_ state: inout RunState, _ payload: RunEvent.Payload, _ activity: String) {
        state.apply(RunEvent(payload, runID: "r", workflow: "w", activity: activity, at: Timestamp(nanosecondsSinceEpoch: 1)))
    }

    @Test func diamondStartsTheRootThenBothBranchesThenTheJoin() {
        let scheduler = RunScheduler(workflow: diamond)
        var state = queued(diamond)
        #expect(scheduler.decide(state) == .start(["a"]))
        apply(&state, .activityScheduled(input: [:]), "a")
        #expect(scheduler.decide(state) == .awaitInFlight)
        apply(&state, completed(1), "a")
        #expect(scheduler.decide(state) == .start(["b", "c"]))
        apply(&state, .activityScheduled(input: [:]), "b")
        apply(&state, .activityScheduled(input: [:]), "c")
        apply(&state, completed(2), "c")
        #expect(scheduler.decide(state) == .awaitInFlight)
        apply(&state, .activitySkipped(.whenFalse), "b")
        #expect(scheduler.decide(state) == .start(["d"]))
        apply(&state, .activityScheduled(input: [:]), "d")
        apply(&state, completed(3), "d")
        #expect(scheduler.decide(state) == .complete)
        #expect(state.nextSeq == 4)
    }

    @Test func maxActivitiesCapsWhatStartsAtOnce() {
        var workflow = Workflow(id: "fan", activities: (1...5).map { lua("s\($0)") })
        workflow.concurrency = ConcurrencyLimits(maxActivities: 2)
        let scheduler = RunScheduler(workflow: workflow)
        var state = queued(workflow)
        #expect(scheduler.decide(state) == .start(["s1", "s2"]))
        apply(&state, .activityScheduled(input: [:]), "s1")
        #expect(scheduler.decide(state) == .start(["s2"]))
        apply(&state, .activityScheduled(input: [:]), "s2")
        #expect(scheduler.decide(state) == .awaitInFlight)
        apply(&state, completed(1), "s1")
        #expect(scheduler.decide(state) == .start(["s3"]))
    }

    @Test func priorityStrategyGivesTheMaxActivitiesRoomToHigherPriorityFirst() {
        var activities = (1...5).map { lua("s\($0)") }
        for (index, priority) in [0, -1, 1, 0, 1].enumerated() { activities[index].priority = priority }
        var workflow = Workflow(id: "fan", activities: activities)
        workflow.concurrency = ConcurrencyLimits(maxActivities: 2, strategy: .priority)
        let scheduler = RunScheduler(workflow: workflow)
        var state = queued(workflow)
        #expect(scheduler.decide(state) == .start(["s3", "s5"]))
        apply(&state, .activityScheduled(input: [:]), "s3")
        apply(&state, .activityScheduled(input: [:]), "s5")
        apply(&state, completed(1), "s5")
        #expect(scheduler.decide(state) == .start(["s1"]), "ties go in declaration order")
        apply(&state, .activityScheduled(input: [:]), "s1")
        apply(&state, completed(2), "s3")
        #expect(scheduler.decide(state) == .start(["s4"]))
        // FIFO (the default) keeps declaration order whatever the priorities.
        workflow.concurrency = ConcurrencyLimits(maxActivities: 2)
        #expect(RunScheduler(workflow: workflow).decide(queued(workflow)) == .start(["s1", "s2"]))
    }

    @Test func seedStyleRunsInOrder() {
        let workflow = Workflow(id: "seq", activities: sequential([lua("one"), lua("two"), lua("three")]))
        let scheduler = RunScheduler(workflow: workflow)
        var state = queued(workflow)
        for name in ["one", "two", "three"] {
            #expect(scheduler.decide(state) == .start([name]))
            apply(&state, .activityScheduled(input: [:]), name)
            let seq = state.nextSeq
            apply(&state, completed(seq), name)
        }
        #expect(scheduler.decide(state) == .complete)
    }

    @Test func waitingAndFailingRuns() {
        let scheduler = RunScheduler(workflow: diamond)
        var state = queued(diamond)
        apply(&state, .activityWaiting(.task(id: "t")), "a")
        #expect(scheduler.decide(state) == .wait)
        state.apply(
            RunEvent(
                .runFailing(cause: .cancelled, error: ActivityFailure(.cancelled, "cancelled"), activity: nil), runID: "r", workflow: "w",
                at: Timestamp(nanosecondsSinceEpoch: 2)))
        #expect(scheduler.decide(state) == .windDown(.cancelled))
    }

    @Test func edgesSkipTheTargetUnlessAnIncomingDependencyIsTaken() {
        let onlyEdge = Activity(name: "t", dependencies: [Dependency("a", when: Expression("x"))], body: .builtin(.noop))
        let edgeAndNeed = Activity(
            name: "t", dependencies: [Dependency("a", when: Expression("x")), Dependency("b")], body: .builtin(.noop))
        let twoEdges = Activity(
            name: "t", dependencies: [Dependency("a", when: Expression("x")), Dependency("b", when: Expression("y"))],
            body: .builtin(.noop))
        let scheduler = RunScheduler(workflow: diamond)
        #expect(!scheduler.runsAfterEdges(onlyEdge, taken: []))
        #expect(scheduler.runsAfterEdges(onlyEdge, taken: ["a"]))
        #expect(scheduler.runsAfterEdges(edgeAndNeed, taken: []))
        #expect(scheduler.runsAfterEdges(twoEdges, taken: ["b"]))
        #expect(!scheduler.runsAfterEdges(twoEdges, taken: []))
        #expect(scheduler.runsAfterEdges(lua("plain", needs: ["a"]), taken: []))
    }

    @Test func conditionsOfSkippedSourcesAreNotEvaluated() {
        let workflow = Workflow(
            id: "w",
            activities: [
                lua("a"), lua("b"),
                Activity(
                    name: "t", dependencies: [Dependency("a", when: Expression("x")), Dependency("b", when: Expression("y"))],
                    body: .builtin(.noop)),
            ])
        let scheduler = RunScheduler(workflow: workflow)
        var state = queued(workflow)
        apply(&state, completed(1), "a")
        apply(&state, .activitySkipped(.whenFalse), "b")
        #expect(scheduler.conditionsToEvaluate(for: workflow.activities[2], in: state).map(\.activity) == ["a"])
    }
}

/// Which activities a failed run undoes, and in which order.
@Suite struct CompensationPlannerTests {
    @Test func reverseCompletionOrderNotDeclarationOrder() {
        let workflow = Workflow(
            id: "w",
            activities: [
                lua("a", compensate: "undo_a"), lua("b", compensate: "undo_b"), lua("c", compensate: "undo_c"),
                lua("d", compensate: "undo_d", compensateOnFailure: true), lua("e"),
            ])
        var state = RunState(
            queuedBy: RunEvent(
                .runQueued(QueuedRun(definitionHash: "", input: [:], activities: ["a", "b", "c", "d", "e"])), runID: "r", workflow: "w",
                at: Timestamp(nanosecondsSinceEpoch: 0)))!
        for (name, seq) in [("a", 1), ("c", 2), ("b", 3), ("e", 4)] {
            state.apply(RunEvent(completed(seq), runID: "r", workflow: "w", activity: name, at: .init(nanosecondsSinceEpoch: 1)))
        }
        state.apply(
            RunEvent(
                .activityFailed(error: ActivityFailure(.activityError, "failed"), attempts: 1), runID: "r", workflow: "w", activity: "d",
                at: .init(nanosecondsSinceEpoch: 2)))
        #expect(CompensationPlanner.plan(workflow, state: state).map(\.activity) == ["d", "b", "c", "a"])
        #expect(CompensationPlanner.plan(workflow, state: state).map(\.handlerName) == ["undo_d", "undo_b", "undo_c", "undo_a"])
        #expect(CompensationPlanner.compensates(workflow))
        var failOnly = workflow
        failOnly.errorHandling.strategy = .fail
        #expect(!CompensationPlanner.compensates(failOnly))
    }
}

/// An `activity.completed` of attempt 1 with sequence number `seq`.
private func completed(_ seq: Int) -> RunEvent.Payload { .activityCompleted(ActivityCompletion(seq: seq, output: .null, attempts: 1)) }

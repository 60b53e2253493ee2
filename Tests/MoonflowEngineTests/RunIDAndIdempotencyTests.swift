import MoonflowEngine
import MoonflowModel
import Testing

/// Run ids (issue 12 items 1a and 4): callers choose ids only by `RunIDRule`, the engine's own ids
/// are out of their reach, and an idempotent start returns an existing run only when it repeats
/// the same start.
@Suite struct RunIDAndIdempotencyTests {
    let hello = Workflow(id: "hello", activities: [lua("a")])
    let other = Workflow(id: "other", activities: [lua("a")])

    @Test func aRepeatedStartReturnsTheRunOnlyForTheSameWorkflowAndInput() async throws {
        let h = Harness()
        let id = try await h.engine.start(workflow: hello, definitionHash: "h", input: ["a": 1, "b": 2], runID: "order-42")
        // The same request (key order does not matter) returns the run and writes nothing.
        #expect(try await h.engine.start(workflow: hello, definitionHash: "h", input: ["b": 2, "a": 1], runID: "order-42") == id)
        let repeated = try await h.engine.startRun(PinnedWorkflow(workflow: hello, hash: "h2"), input: ["a": 1, "b": 2], runID: "order-42")
        #expect(repeated == RunStart(runID: "order-42", created: false))
        // Another input or another workflow under the id is a conflict, and changes nothing.
        await #expect(throws: EngineError.self) {
            try await h.engine.start(workflow: hello, definitionHash: "h", input: ["a": 2, "b": 2], runID: "order-42")
        }
        await #expect(throws: EngineError.self) {
            try await h.engine.start(workflow: other, definitionHash: "h", input: ["a": 1, "b": 2], runID: "order-42")
        }
        #expect(try await h.store.journal(of: "order-42").count == 1)
        #expect(try await h.store.state(of: "order-42")?.input == ["a": 1, "b": 2])
        #expect(try await h.store.runs(status: nil).count == 1)
    }

    @Test func theConflictAlsoHoldsOnceTheRunHasFinished() async throws {
        let h = Harness()
        _ = try await h.run(hello, input: ["n": 1], id: "done-1")
        do {
            _ = try await h.engine.start(workflow: hello, definitionHash: "h", input: ["n": 2], runID: "done-1")
            Issue.record("a different start under a finished run's id was accepted")
        } catch EngineError.runIDConflict(let id, let reason) {
            #expect(id == "done-1")
            #expect(reason.contains("another input"))
        }
    }

    @Test(arguments: ["run-1/sub", "@schedule:hello:1765000000", "@event:hello:0123", "", "a b", "x')", "-rf"])
    func callersCannotCreateRunsUnderIDsOutsideTheRule(_ id: String) async throws {
        let h = Harness()
        await #expect(throws: RunIDError.self) {
            try await h.engine.start(workflow: hello, definitionHash: "h", input: [:], runID: id)
        }
        #expect(try await h.store.runs(status: nil).isEmpty)
    }

    @Test func everyIDTheEngineMakesIsOutOfCallersReach() {
        let ids = [
            EngineRunID.child(of: "payout-101", activity: "check"),
            EngineRunID.scheduleTick(workflow: "nightly", tick: Timestamp(nanosecondsSinceEpoch: 1_765_000_000_000_000_000)),
            EngineRunID.event(workflow: "escalate", key: "dedupe\u{0}T-1\n2026 critical forged"),
        ]
        #expect(ids[0] == "payout-101/check")
        #expect(ids[1] == "@schedule:nightly:1765000000")
        #expect(ids[2].hasPrefix("@event:escalate:") && ids[2].count == "@event:escalate:".count + 32)
        for id in ids {
            #expect(!RunIDRule.isValid(id), "\(id)")
            #expect(EngineRunID.isEngineMade(id))
        }
        #expect(!EngineRunID.isEngineMade("payout-101"))
    }

    /// A catalog with one child workflow whose body returns its input.
    struct ChildCatalog: WorkflowCatalog {
        static let child = Workflow(id: "check", activities: [lua("inner")])
        func workflow(id: String) async -> PinnedWorkflow? { id == "check" ? PinnedWorkflow(workflow: Self.child, hash: "c") : nil }
    }

    var approvalParent: Workflow {
        Workflow(id: "payout", activities: [Activity(name: "check", body: .workflow("check"), with: .value(["amount": 101]))])
    }

    @Test func aParentNeverAdoptsARunItDidNotStartAsItsChild() async throws {
        let h = Harness(["inner": { invocation in ScriptOutcome(output: ["approved": invocation.input["forged"] ?? false]) }], catalog: ChildCatalog())
        // A run under the child's id that the parent did not start (a store written before the
        // rule, or by hand): its journal is put in the store directly.
        _ = try await h.engine.start(PinnedWorkflow(workflow: ChildCatalog.child, hash: "c"), input: ["forged": true], runID: "warm-up")
        let squat = RunEvent(
            .runQueued(QueuedRun(definitionHash: "c", input: ["forged": true], activities: ["inner"])), runID: "payout-101/check",
            workflow: "check", at: h.clock.now)
        let squatState = try #require(RunState.folding([squat]))
        #expect(try await h.store.create(squatState, definition: PinnedDefinition(workflowID: "check", hash: "c"), events: [squat]))

        let report = try await h.run(approvalParent, id: "payout-101")
        #expect(report.status == .failed)
        #expect(report.output != ["approved": true])
        let failure = try #require(report.activities.first?.error)
        #expect(failure.message.contains("exists"))
        // The squatted run was not driven.
        #expect(try await h.store.state(of: "payout-101/check")?.status == .queued)
    }

    @Test func aChildStartedByItsParentIsFoundAgainOnResume() async throws {
        let h = Harness(["inner": { invocation in ScriptOutcome(output: ["got": invocation.input]) }], catalog: ChildCatalog())
        let report = try await h.run(approvalParent, id: "payout-7")
        #expect(report.status == .completed)
        let child = try #require(try await h.store.state(of: "payout-7/check"))
        #expect(child.origin == .child)
        #expect(child.parent == ParentLink(runID: "payout-7", activity: "check"))
    }

    @Test func aScheduleTickStartsOneRunAndRecordsItsTick() async throws {
        let h = Harness()
        let tick = Timestamp(nanosecondsSinceEpoch: 1_765_000_000_000_000_000)
        let pinned = PinnedWorkflow(workflow: hello, hash: "h")
        let first = try await h.engine.startScheduled(pinned, tick: tick, event: ["type": "schedule"])
        let again = try await h.engine.startScheduled(pinned, tick: tick, event: ["type": "schedule"])
        #expect(first == RunStart(runID: "@schedule:hello:1765000000", created: true))
        #expect(again == RunStart(runID: first.runID, created: false))
        #expect(try await h.store.state(of: first.runID)?.origin == .schedule(tick: tick))
    }

    @Test func anEventKeyNamesOneRunWhateverThePayload() async throws {
        let h = Harness()
        let pinned = PinnedWorkflow(workflow: hello, hash: "h")
        let first = try await h.engine.startTriggered(pinned, input: ["n": 1], key: "T-1", event: ["n": 1])
        let second = try await h.engine.startTriggered(pinned, input: ["n": 2], key: "T-1", event: ["n": 2])
        #expect(first.created && !second.created && first.runID == second.runID)
        #expect(first.runID.hasPrefix("@event:hello:"))
        #expect(try await h.store.state(of: first.runID)?.input == ["n": 1])
    }
}

/// Error texts (issue 12 item 9): capped and stripped of control characters wherever they are
/// stored, logged or returned.
@Suite struct ErrorTextTests {
    @Test func aHugeScriptErrorOverThreeAttemptsStoresKilobytesNotMegabytes() async throws {
        let huge = String(repeating: "E", count: 20 << 20)
        let h = Harness(["boom": { _ throws(ActivityFailure) in throw ActivityFailure(.activityError, huge + "\n\u{1B}[2J") }])
        let workflow = Workflow(id: "loud", activities: [lua("boom", retry: RetryPolicy(maxAttempts: 3))])
        let report = try await h.runPassingTime(workflow)
        #expect(report.status == .failed)
        #expect(report.activities[0].attempts == 3)
        let journal = try await h.store.journal(of: "run-1")
        let stored = journal.reduce(0) { $0 + $1.toValue().jsonString().utf8.count }
        #expect(stored < 64 << 10, "the journal holds \(stored) bytes")
        let message = try #require(report.error?.message)
        #expect(message.utf8.count <= SafeText.errorMessageLimit)
        #expect(message.contains("[truncated: "))
        #expect(!message.contains("\u{1B}"))
    }
}

import MoonflowEngine
import MoonflowModel
import Synchronization
import Testing

/// Saga compensation (docs/workflow-format.md).
@Suite(.timeLimit(.minutes(1))) struct SagaTests {
    /// Records the order compensations ran in, and what they received.
    final class Undo: Sendable {
        let log = Mutex<[String]>([])
        let inputs = Mutex<[String: Value]>([:])
        var order: [String] { log.withLock { $0 } }

        func body(_ name: String, fails: Bool = false) -> ScriptBody {
            { invocation throws(ActivityFailure) in
                self.log.withLock { $0.append(name) }
                self.inputs.withLock { $0[name] = invocation.input }
                if fails { throw ActivityFailure(.activityError, "\(name) cannot undo", retryable: false) }
                return ScriptOutcome(output: .null)
            }
        }
    }

    @Test func diamondIsUndoneInReverseCompletionOrder() async throws {
        let cDone = Gate()
        let undo = Undo()
        let h = Harness([
            // c completes before b although b is declared first.
            "b": { _ in await cDone.wait(); return ScriptOutcome(output: "b") },
            "c": { _ in cDone.open(); return ScriptOutcome(output: "c") },
            "d": failing(.init("Declined")),
            "undo_a": undo.body("undo_a"), "undo_b": undo.body("undo_b"), "undo_c": undo.body("undo_c"),
        ])
        let workflow = Workflow(
            id: "saga",
            activities: [
                lua("a", compensate: "undo_a"), lua("b", needs: ["a"], compensate: "undo_b"),
                lua("c", needs: ["a"], compensate: "undo_c"), lua("d", needs: ["b", "c"]),
            ])
        let report = try await h.run(workflow, input: ["order": 9])
        #expect(report.status == .compensated)
        #expect(report.error == ExecutionReport.ErrorInfo(type: "Declined", message: "boom", activity: "d"))
        #expect(report.activities.map(\.seq) == [1, 3, 2, nil])
        #expect(undo.order == ["undo_b", "undo_c", "undo_a"])
        #expect(report.compensations.map(\.activity) == ["b", "c", "a"])
        #expect(report.compensations.map(\.status) == [.completed, .completed, .completed])
        #expect(report.compensations.map(\.handler) == ["undo_b", "undo_c", "undo_a"])
        // A compensation receives the original input and output, and the error.
        let input = undo.inputs.withLock { $0["undo_b"] }
        #expect(input?["input"] == ["order": 9])
        #expect(input?["output"] == "b")
        #expect(input?["error"]?["type"] == "Declined")
    }

    func threeStepSaga(onError: CompensationPolicy.OnError, undo: Undo) -> Harness {
        Harness([
            "fail": failing(),
            "undo_a": undo.body("undo_a"), "undo_b": undo.body("undo_b", fails: true), "undo_c": undo.body("undo_c"),
        ])
    }

    func threeStepWorkflow(_ onError: CompensationPolicy.OnError) -> Workflow {
        Workflow(
            id: "three", compensation: CompensationPolicy(onError: onError),
            activities: sequential([
                lua("a", compensate: "undo_a"), lua("b", compensate: "undo_b"), lua("c", compensate: "undo_c"), lua("fail"),
            ]))
    }

    @Test func haltStopsAtTheFailedCompensationAndListsThePendingOnes() async throws {
        let undo = Undo()
        let h = threeStepSaga(onError: .halt, undo: undo)
        let report = try await h.run(threeStepWorkflow(.halt))
        #expect(report.status == .compensationFailed)
        #expect(undo.order == ["undo_c", "undo_b"])
        #expect(report.compensations.map(\.activity) == ["c", "b", "a"])
        #expect(report.compensations.map(\.status) == [.completed, .failed, .pending])
        #expect(report.compensations[1].error?.message == "undo_b cannot undo")
        #expect(report.error?.type == "ActivityError")
    }

    @Test func continueRunsTheRestAndStillEndsCompensationFailed() async throws {
        let undo = Undo()
        let h = threeStepSaga(onError: .continue, undo: undo)
        let report = try await h.run(threeStepWorkflow(.continue))
        #expect(report.status == .compensationFailed)
        #expect(undo.order == ["undo_c", "undo_b", "undo_a"])
        #expect(report.compensations.map(\.status) == [.completed, .failed, .completed])
    }

    @Test func parallelBranchesAreCancelledAndWaitedForBeforeCompensating() async throws {
        let undo = Undo()
        let release = Gate()
        let slowStarted = Gate()
        let h = Harness([
            // Ignores the cancellation and completes: it joins the set to compensate.
            "stubborn": { _ in
                slowStarted.open()
                await release.wait()
                return ScriptOutcome(output: "late")
            },
            // Honours the cancellation.
            "polite": { _ throws(ActivityFailure) in
                await Gate().wait(forCancellation: ())
                throw ActivityFailure(.cancelled, "cancelled")
            },
            "boom": { _ throws(ActivityFailure) in
                await slowStarted.wait()
                throw ActivityFailure(.activityError, "boom")
            },
            "undo_a": undo.body("undo_a"), "undo_stubborn": undo.body("undo_stubborn"), "undo_polite": undo.body("undo_polite"),
        ])
        let workflow = Workflow(
            id: "branches",
            activities: [
                lua("a", compensate: "undo_a"), lua("stubborn", needs: ["a"], compensate: "undo_stubborn"),
                lua("polite", needs: ["a"], compensate: "undo_polite"), lua("boom", needs: ["a"]),
            ])
        let runID = try await h.engine.start(workflow: workflow, definitionHash: "h", input: [:], runID: "run-1")
        async let status = h.engine.drive(runID)
        // The run must not compensate while `stubborn` still runs.
        while try await h.store.state(of: runID)?.ending == nil { await Task.yield() }
        #expect(undo.order.isEmpty)
        release.open()
        #expect(try await status == .compensated)
        #expect(undo.order == ["undo_stubborn", "undo_a"])
        let report = try await h.engine.report(runID)
        #expect(report.activities.map(\.status) == [.completed, .completed, .cancelled, .failed])
        try await h.expectJournalsFold()
    }

    @Test func fallbackSuccessIsNotCompensatedUnlessTheFallbackHasItsOwn() async throws {
        let undo = Undo()
        let h = Harness([
            "primary": failing(), "fail": failing(), "undo_a": undo.body("undo_a"), "undo_primary": undo.body("undo_primary"),
            "undo_fallback": undo.body("undo_fallback"),
        ])
        let plain = Workflow(
            id: "fb",
            activities: sequential([
                lua("a", compensate: "undo_a"),
                lua("primary", fallback: Fallback(.output(.value(["degraded": true]))), compensate: "undo_primary"),
                lua("fail"),
            ]))
        let report = try await h.run(plain, id: "plain")
        #expect(report.activities[1].status == .completedViaFallback)
        #expect(report.activities[1].viaFallback)
        #expect(report.activities[1].output == ["degraded": true])
        #expect(report.status == .compensated)
        #expect(undo.order == ["undo_a"])

        var withOwn = plain
        withOwn.id = "fb2"
        withOwn.activities[1].fallback = Fallback(
            .body(
                Handler(
                    body: .builtin(.noop),
                    compensate: Compensation(Handler(body: .lua(ScriptChunk(source: "", name: "undo_fallback")))))))
        let second = try await h.run(withOwn, id: "own")
        #expect(second.status == .compensated)
        #expect(undo.order == ["undo_a", "undo_fallback", "undo_a"])
    }

    @Test func failedActivitiesAreCompensatedOnlyWithCompensateOnFailure() async throws {
        let undo = Undo()
        let h = Harness(["charge": failing(), "refund": undo.body("refund")])
        let plain = Workflow(id: "p", activities: [lua("charge", compensate: "refund")])
        #expect(try await h.run(plain, id: "plain").status == .failed)
        #expect(undo.order.isEmpty)
        let onFailure = Workflow(id: "f", activities: [lua("charge", compensate: "refund", compensateOnFailure: true)])
        let report = try await h.run(onFailure, id: "on-failure")
        #expect(report.status == .compensated)
        #expect(undo.order == ["refund"])
    }

    @Test func failStrategyEndsFailedWithoutCompensating() async throws {
        let undo = Undo()
        let h = Harness(["fail": failing(), "undo_a": undo.body("undo_a")])
        var workflow = Workflow(id: "f", activities: sequential([lua("a", compensate: "undo_a"), lua("fail")]))
        workflow.errorHandling.strategy = .fail
        #expect(try await h.run(workflow).status == .failed)
        #expect(undo.order.isEmpty)
    }

    @Test func cancelCompensatesAndTerminateNeverDoes() async throws {
        let undo = Undo()
        let h = Harness(["undo_a": undo.body("undo_a")])
        let approval = Activity(name: "approve", body: .manual(ManualTask(users: ["alice"])))
        let workflow = Workflow(id: "t", activities: sequential([lua("a", compensate: "undo_a"), approval]))

        _ = try await h.run(workflow, id: "cancel-me")
        #expect(try await h.engine.cancel("cancel-me") == .compensated)
        #expect(undo.order == ["undo_a"])
        let cancelled = try await h.engine.report("cancel-me")
        #expect(cancelled.error?.type == "Cancelled")
        #expect(cancelled.tasks.map(\.status) == [.cancelled])

        _ = try await h.run(workflow, id: "terminate-me")
        #expect(try await h.engine.terminate("terminate-me") == .terminated)
        #expect(undo.order == ["undo_a"])
        #expect(try await h.engine.report("terminate-me").compensations.isEmpty)
        try await h.expectJournalsFold()
    }

    @Test func compensationRetriesThroughTheExecutor() async throws {
        let calls = Mutex(0)
        let h = Harness([
            "fail": failing(),
            "undo_a": { _ throws(ActivityFailure) in
                if calls.withLock({ n in n += 1; return n }) < 3 { throw ActivityFailure(.activityError, "not yet") }
                return ScriptOutcome(output: .null)
            },
        ])
        let report = try await h.runPassingTime(Workflow(id: "r", activities: sequential([lua("a", compensate: "undo_a"), lua("fail")])))
        #expect(report.status == .compensated)
        #expect(report.compensations.first?.attempts == 3)
        // The default compensation retry is exponential from 1s: 1s, then 2s (docs/workflow-format.md).
        #expect(h.clock.now == Timestamp(nanosecondsSinceEpoch: 1_800_000_003_000_000_000))
    }

    /// Scripts see the idempotency key, and stores keep what scripts did with it: its form stays
    /// `<run>:<activity>` for an activity and `<run>:<activity>:compensate` for its compensation.
    @Test func aCompensationRunsAsOneWithItsOwnIdempotencyKey() async throws {
        let seen = Mutex<[String: (key: Value?, role: BodyRole)]>([:])
        let record: @Sendable (String) -> ScriptBody = { name in
            { invocation in
                seen.withLock { $0[name] = (invocation.activity["idempotency_key"], invocation.role) }
                return ScriptOutcome(output: .null)
            }
        }
        let h = Harness(["a": record("a"), "undo_a": record("undo_a"), "fail": failing()])
        let report = try await h.run(Workflow(id: "k", activities: sequential([lua("a", compensate: "undo_a"), lua("fail")])), id: "run-k")
        #expect(report.status == .compensated)
        let a = seen.withLock { $0["a"] }
        let undo = seen.withLock { $0["undo_a"] }
        #expect(a?.key == "run-k:a")
        #expect(a?.role == .activity)
        #expect(undo?.key == "run-k:a:compensate")
        #expect(undo?.role == .compensation)
    }
}

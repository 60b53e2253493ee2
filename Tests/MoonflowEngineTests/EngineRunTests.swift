import MoonflowEngine
import MoonflowModel
import Testing

/// Runs driven end to end over the in-memory store: order, parallelism, conditions, context, output.
@Suite(.timeLimit(.minutes(1))) struct EngineRunTests {
    @Test func diamondRunsBranchesInParallelAndJoins() async throws {
        let both = Rendezvous(2)
        let h = Harness([
            "b": { _ in await both.arrive(); return ScriptOutcome(output: "b") },
            "c": { _ in await both.arrive(); return ScriptOutcome(output: "c") },
            "d": { invocation in ScriptOutcome(output: invocation.steps) },
        ])
        let workflow = Workflow(
            id: "diamond", activities: [lua("a"), lua("b", needs: ["a"]), lua("c", needs: ["a"]), lua("d", needs: ["b", "c"])])
        let report = try await h.run(workflow, input: ["n": 1])
        #expect(report.status == .completed)
        #expect(h.runner.executions.first == "a#1")
        #expect(h.runner.executions.last == "d#1")
        #expect(h.runner.maxConcurrent == 2)
        #expect(report.activities.map(\.seq) == [1, 2, 3, 4] || report.activities.map(\.seq) == [1, 3, 2, 4])
        // steps.<name>.output and .status are visible to later activities; the sink's output is the run's.
        #expect(report.output?["b"] == ["output": "b", "status": "completed"])
        #expect(report.output?["a"]?["output"] == ["n": 1])
    }

    @Test func seedStyleListRunsInDeclarationOrder() async throws {
        let h = Harness()
        let workflow = Workflow(id: "seed", activities: sequential([lua("one"), lua("two"), lua("three")]))
        let report = try await h.run(workflow)
        #expect(report.status == .completed)
        #expect(h.runner.executions == ["one#1", "two#1", "three#1"])
        #expect(report.activities.map(\.seq) == [1, 2, 3])
    }

    @Test func whenFalseSkipsAndDependentsStillRun() async throws {
        let h = Harness()
        let workflow = Workflow(
            id: "when",
            activities: sequential([lua("check", when: "input.vip"), lua("after")]))
        let report = try await h.run(workflow, input: ["vip": false])
        #expect(report.activities.map(\.status) == [.skipped, .completed])
        #expect(h.runner.executions == ["after#1"])
    }

    @Test func falseEdgeSkipsItsTargetUnlessAnotherIncomingEdgeIsTaken() async throws {
        let h = Harness(["approve": returning(["approved": false])])
        let close = Activity(
            name: "close", dependencies: [Dependency("approve", when: Expression("steps.approve.output.approved"))],
            body: .builtin(.noop))
        let reject = Activity(
            name: "reject", dependencies: [Dependency("approve", when: Expression("not steps.approve.output.approved"))],
            body: .builtin(.noop))
        let notify = Activity(
            name: "notify",
            dependencies: [
                Dependency("approve", when: Expression("steps.approve.output.approved")), Dependency("close"),
            ], body: .builtin(.noop))
        let report = try await h.run(Workflow(id: "edges", activities: [lua("approve"), close, reject, notify]))
        #expect(report.status == .completed)
        #expect(report.activities.map(\.status) == [.completed, .skipped, .completed, .completed])
    }

    @Test func contextWritesAreCommittedOnlyWithASuccessfulAttempt() async throws {
        let h = Harness([
            "flaky": { invocation throws(ActivityFailure) in
                if invocation.activity["attempt"] == 1 {
                    // The writes of this failing attempt must be discarded.
                    throw ActivityFailure(.activityError, "first attempt fails")
                }
                return ScriptOutcome(output: "ok", contextWrites: ["second": true])
            },
            "after": { invocation in ScriptOutcome(output: .object(invocation.context)) },
        ])
        let workflow = Workflow(
            id: "ctx", context: ["sla": 4],
            activities: sequential([lua("flaky", retry: RetryPolicy(maxAttempts: 2)), lua("after")]))
        let report = try await h.runPassingTime(workflow)
        #expect(report.status == .completed)
        #expect(report.context == ["sla": 4, "second": true])
        #expect(report.output == ["sla": 4, "second": true])
        #expect(report.activities[0].attempts == 2)
        let types = try await h.journalTypes()
        #expect(types.contains("activity.retrying"))
    }

    @Test func inputIsTheRenderedWithOrTheRunInput() async throws {
        let h = Harness()
        let workflow = Workflow(
            id: "input",
            activities: sequential([
                lua("plain"), lua("shaped", with: .object(["id": expr("input.ticket"), "label": .template(Template(parts: [.literal("t-"), .expression(Expression("input.ticket"))]))])),
            ]))
        let report = try await h.run(workflow, input: ["ticket": 7])
        #expect(report.activities[0].input == ["ticket": 7])
        #expect(report.activities[1].input == ["id": 7, "label": "t-7"])
        #expect(report.output == ["id": 7, "label": "t-7"])
    }

    @Test func outputTemplateAndSeveralSinks() async throws {
        let h = Harness(["x": returning(1), "y": returning(2)])
        let sinks = try await h.run(Workflow(id: "sinks", activities: [lua("x"), lua("y")]), id: "sinks")
        #expect(sinks.output == ["x": 1, "y": 2])
        var templated = Workflow(id: "tpl", context: ["agent": "A-1"], activities: [lua("x")])
        templated.output = .object(["agent": expr("workflow.agent"), "x": expr("steps.x.output")])
        let report = try await h.run(templated, id: "tpl")
        #expect(report.output == ["agent": "A-1", "x": 1])
    }

    @Test func builtInsSetFailAndEmit() async throws {
        let h = Harness()
        let events = h.engine.events()
        let workflow = Workflow(
            id: "builtins",
            activities: sequential([
                Activity(name: "set", body: .builtin(.set), with: .value(["tier": "gold"])),
                Activity(name: "emit", body: .builtin(.emit), with: .value(["type": "order:placed", "payload": ["id": 1]])),
                Activity(name: "log", body: .builtin(.log), with: .value(["message": "hello"])),
                Activity(name: "fail", body: .builtin(.fail), with: .value(["type": "PaymentDeclined", "message": "no"])),
            ]))
        let report = try await h.run(workflow)
        #expect(report.context == ["tier": "gold"])
        #expect(report.status == .failed)
        #expect(report.error == ExecutionReport.ErrorInfo(type: "PaymentDeclined", message: "no", activity: "fail"))
        var seen: [String] = []
        for await event in events {
            seen.append(event.type.rawValue)
            if event.type == .runFailed { break }
        }
        #expect(seen.contains("order:placed"))
        #expect(seen.first == "run.queued")
    }

    @Test func sleepIsADurableTimer() async throws {
        let h = Harness()
        let workflow = Workflow(
            id: "sleepy",
            activities: sequential([Activity(name: "nap", body: .builtin(.sleep), with: .value(["duration": "2s"])), lua("after")]))
        let first = try await h.run(workflow)
        #expect(first.status == .waiting)
        #expect(first.activities[0].status == .waiting)
        #expect(try await h.engine.nextTimer(of: "run-1") == h.clock.now + .seconds(2))
        #expect(try await h.engine.fireDueTimers() == [])
        h.clock.advance(by: .seconds(2))
        #expect(try await h.engine.fireDueTimers() == ["run-1"])
        let report = try await h.engine.report("run-1")
        #expect(report.status == .completed)
        #expect(h.runner.executions == ["after#1"])
        try await h.expectJournalsFold()
    }

    @Test func workflowTimeoutCancelsWhatRunsAndEndsTimedOut() async throws {
        let h = Harness([
            "slow": { _ throws(ActivityFailure) in
                await Gate().wait(forCancellation: ())
                throw ActivityFailure(.cancelled, "stopped")
            }
        ])
        var workflow = Workflow(id: "slow", activities: [lua("slow")])
        workflow.timeout = .seconds(10)
        let runID = try await h.engine.start(workflow: workflow, definitionHash: "h", input: [:], runID: "run-1")
        async let status = h.engine.drive(runID)
        while h.clock.sleeperCount == 0 { await Task.yield() }
        h.clock.advance(by: .seconds(10))
        #expect(try await status == .timedOut)
        let report = try await h.engine.report(runID)
        #expect(report.error?.type == "Timeout")
        #expect(report.activities[0].status == .cancelled)
        try await h.expectJournalsFold()
    }

    @Test func runInputIsValidatedAndNothingIsStoredWhenInvalid() async throws {
        struct Rejecting: SchemaValidating {
            func validate(_ value: Value, against schema: Value) -> [String] { value["id"] == nil ? ["id is required"] : [] }
        }
        let h = Harness(validator: Rejecting())
        var workflow = Workflow(id: "typed", activities: [lua("a")])
        workflow.input = SchemaDefinition(schema: ["required": ["id"]])
        await #expect(throws: ActivityFailure.self) {
            try await h.engine.start(workflow: workflow, definitionHash: "h", input: [:], runID: "bad")
        }
        #expect(try await h.store.state(of: "bad") == nil)
        let id = try await h.engine.start(workflow: workflow, definitionHash: "h", input: ["id": 1], runID: "good")
        #expect(try await h.engine.start(workflow: workflow, definitionHash: "h", input: ["id": 1], runID: "good") == id)
        #expect(try await h.store.journal(of: "good").count == 1)
    }

    @Test func childWorkflowOutputIsTheActivityOutput() async throws {
        struct Catalog: WorkflowCatalog {
            func workflow(id: String) async -> PinnedWorkflow? {
                id == "child" ? PinnedWorkflow(workflow: Workflow(id: "child", activities: [lua("inner")]), hash: "c") : nil
            }
        }
        let h = Harness(["inner": { invocation in ScriptOutcome(output: ["got": invocation.input]) }], catalog: Catalog())
        let workflow = Workflow(
            id: "parent", activities: [Activity(name: "sub", body: .workflow("child"), with: .value(["x": 1]))])
        let report = try await h.run(workflow)
        #expect(report.status == .completed)
        #expect(report.output == ["got": ["x": 1]])
        let child = try await h.engine.report("run-1/sub")
        #expect(child.status == .completed)
        #expect(child.input == ["x": 1])
    }
}

extension Gate {
    /// Suspends until the calling task is cancelled.
    func wait(forCancellation: Void) async {
        await withTaskCancellationHandler { await wait() } onCancel: { open() }
    }
}

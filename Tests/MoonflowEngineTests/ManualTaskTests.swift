import MoonflowEngine
import MoonflowModel
import Testing

/// Manual tasks (docs/workflow-format.md).
@Suite(.timeLimit(.minutes(1))) struct ManualTaskTests {
    struct FormValidator: SchemaValidating {
        func validate(_ value: Value, against schema: Value) -> [String] {
            value["approved"]?.boolValue == nil ? ["approved must be a boolean"] : []
        }
    }

    func approvalWorkflow(due: Duration? = .seconds(3600), retry: RetryPolicy? = nil, onTimeout: Fallback? = nil) -> Workflow {
        var approve = Activity(
            name: "approve",
            body: .manual(
                ManualTask(
                    users: ["alice"], groups: ["tier2"], form: SchemaDefinition(schema: ["type": "object"]), due: due,
                    remind: [.seconds(600), .seconds(7200)], onTimeout: onTimeout)))
        approve.retry = retry
        return Workflow(id: "approval", activities: sequential([lua("prepare"), approve, lua("close")]))
    }

    /// Task ids are engine-made: two runs never share one, whatever their ids and activity names
    /// (`a.b` + `c` and `a` + `b.c` once both gave `a.b.c.1`, and the second task hid the first).
    @Test func taskIDsOfDifferentRunsNeverCollide() async throws {
        let h = Harness()
        func manual(_ name: String) -> Activity {
            Activity(name: name, body: .manual(ManualTask(users: ["alice"], groups: [], form: nil, due: nil, remind: [], onTimeout: nil)))
        }
        let first = try await h.run(Workflow(id: "w2", activities: [manual("b.c")]), id: "a")
        let second = try await h.run(Workflow(id: "w1", activities: [manual("c")]), id: "a.b")
        let ids = [try #require(first.tasks.first?.id), try #require(second.tasks.first?.id)]
        #expect(ids[0] != ids[1])
        #expect(try await h.store.task(id: ids[0])?.runID == "a")
        #expect(try await h.store.task(id: ids[1])?.runID == "a.b")
        #expect(try await h.engine.completeTask(ids[1], data: [:], user: TaskUser("alice")) == .completed)
        #expect(try await h.store.state(of: "a")?.status == .waiting)
    }

    @Test func runWaitsUntilAnAssigneeCompletesTheTask() async throws {
        let h = Harness(validator: FormValidator())
        let waiting = try await h.run(approvalWorkflow(), input: ["ticket": 1])
        #expect(waiting.status == .waiting)
        #expect(waiting.activities.map(\.status) == [.completed, .waiting, .pending])
        let task = try #require(waiting.tasks.first)
        #expect(task.id == "run-1:approve:1")
        #expect(task.users == ["alice"] && task.groups == ["tier2"])
        #expect(task.due == h.clock.now + .seconds(3600))
        let stored = try #require(try await h.store.task(id: task.id))
        #expect(stored.tokenDigest.count == 64)  // only the SHA-256 of the token is kept
        // Reminders after `due` are dropped.
        #expect(stored.reminders == [h.clock.now + .seconds(600)])

        await #expect(throws: TaskCompletionError.notAssignee(taskID: task.id, user: "mallory")) {
            try await h.engine.completeTask(task.id, data: ["approved": true], user: TaskUser("mallory"))
        }
        await #expect(throws: TaskCompletionError.invalid(taskID: task.id, errors: ["approved must be a boolean"])) {
            try await h.engine.completeTask(task.id, data: ["approved": "yes"], user: TaskUser("alice"))
        }
        #expect(try await h.store.task(id: task.id)?.status == .open)

        // A member of an assigned group may complete it.
        let status = try await h.engine.completeTask(task.id, data: ["approved": true], user: TaskUser("bob", groups: ["tier2"]))
        #expect(status == .completed)
        await #expect(throws: TaskCompletionError.alreadyCompleted(taskID: task.id, by: "bob")) {
            try await h.engine.completeTask(task.id, data: ["approved": false], user: TaskUser("alice"))
        }
        let report = try await h.engine.report("run-1")
        #expect(report.activities[1].output == ["approved": true])
        #expect(report.activities.map(\.status) == [.completed, .completed, .completed])
        #expect(report.tasks.map(\.status) == [.completed])
        let types = try await h.journalTypes()
        #expect(types.contains("task.created") && types.contains("task.assigned") && types.contains("task.completed"))
        #expect(types.contains("run.waiting") && types.contains("run.resumed"))
        try await h.expectJournalsFold()
    }

    @Test func remindersAndExpiryAreDurableTimers() async throws {
        let h = Harness()
        _ = try await h.run(approvalWorkflow())
        h.clock.advance(by: .seconds(600))
        #expect(try await h.engine.fireDueTimers() == ["run-1"])
        #expect(try await h.journalTypes().contains("task.reminded"))
        #expect(try await h.engine.report("run-1").status == .waiting)

        h.clock.advance(by: .seconds(3000))
        try await h.engine.fireDueTimers()
        let report = try await h.engine.report("run-1")
        #expect(report.status == .failed)
        #expect(report.error?.type == "ManualTaskTimeout")
        #expect(report.tasks.map(\.status) == [.expired])
        await #expect(throws: TaskCompletionError.self) {
            try await h.engine.completeTask("run-1:approve:1", data: [:], user: TaskUser("alice"))
        }
        try await h.expectJournalsFold()
    }

    @Test func expiryRetriesWithANewTaskThenFallsBack() async throws {
        let h = Harness()
        let workflow = approvalWorkflow(
            due: .seconds(60), retry: RetryPolicy(maxAttempts: 2, retryOn: [.manualTaskTimeout]),
            onTimeout: Fallback(.output(.value(["approved": false]))))
        _ = try await h.run(workflow)
        h.clock.advance(by: .seconds(60))
        try await h.engine.fireDueTimers()
        var report = try await h.engine.report("run-1")
        #expect(report.status == .waiting)
        #expect(report.tasks.map(\.id) == ["run-1:approve:1", "run-1:approve:2"])
        #expect(report.tasks.map(\.status) == [.expired, .open])

        h.clock.advance(by: .seconds(60))
        try await h.engine.fireDueTimers()
        report = try await h.engine.report("run-1")
        #expect(report.status == .completed)
        #expect(report.activities[1].status == .completedViaFallback)
        #expect(report.activities[1].output == ["approved": false])
        #expect(report.activities[1].attempts == 2)
        try await h.expectJournalsFold()
    }

    @Test func childRunWaitingOnATaskResumesItsParent() async throws {
        struct Catalog: WorkflowCatalog {
            func workflow(id: String) async -> PinnedWorkflow? {
                PinnedWorkflow(
                    workflow: Workflow(id: "child", activities: [Activity(name: "ask", body: .manual(ManualTask()))]), hash: "c")
            }
        }
        let h = Harness(catalog: Catalog())
        let workflow = Workflow(id: "parent", activities: sequential([Activity(name: "sub", body: .workflow("child")), lua("after")]))
        let waiting = try await h.run(workflow)
        #expect(waiting.status == .waiting)
        #expect(try await h.engine.report("run-1/sub").status == .waiting)
        _ = try await h.engine.completeTask("run-1/sub:ask:1", data: ["ok": true], user: TaskUser("anyone"))
        let report = try await h.engine.report("run-1")
        #expect(report.status == .completed)
        #expect(report.activities[0].output == ["ok": true])
        try await h.expectJournalsFold()
    }
}

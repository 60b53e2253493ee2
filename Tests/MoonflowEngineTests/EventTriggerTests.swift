import MoonflowEngine
import MoonflowModel
import Testing

/// Event triggers (docs/workflow-format.md, `trigger: event:` and "Events").
@Suite struct EventTriggerTests {
    func ticketWorkflow(dedupe: Bool = false) -> PinnedWorkflow {
        let trigger = Trigger(
            .event(type: "ticket:created", conditions: ["priority": ["high", "urgent"], "queue": "support"]),
            when: Expression("event.tier ~= 'free'"), input: .object(["ticket_id": expr("event.id")]),
            dedupe: dedupe ? Template(parts: [.expression(Expression("event.id"))]) : nil)
        return PinnedWorkflow(workflow: Workflow(id: "escalate", triggers: [trigger], activities: [lua("a")]), hash: "h")
    }

    @Test func everyConditionMustMatchAndAListMeansAnyOf() {
        let conditions: Value = ["priority": ["high", "urgent"], "queue": "support"]
        let match = { (payload: Value) in EventTriggers.conditionsMatch(conditions.objectValue!, payload: payload) }
        #expect(match(["priority": "urgent", "queue": "support", "extra": 1]))
        #expect(!match(["priority": "low", "queue": "support"]))
        #expect(!match(["priority": "high"]))
    }

    @Test func whenAndInputAreEvaluatedAgainstTheEvent() async {
        let triggers = EventTriggers(workflows: [ticketWorkflow()])
        let runner = ScriptedRunner()
        let payload: Value = ["id": 42, "priority": "high", "queue": "support", "tier": "gold"]
        let matches = await triggers.match(type: "ticket:created", payload: payload, evaluator: runner)
        #expect(matches.map(\.input) == [["ticket_id": 42]])
        #expect(await triggers.match(type: "ticket:closed", payload: payload, evaluator: runner).isEmpty)
        var free = payload
        free = free.adding(key: "tier", "free")
        #expect(await triggers.match(type: "ticket:created", payload: free, evaluator: runner).isEmpty)
    }

    @Test func aSecondEventWithTheSameDedupeKeyReturnsTheExistingRun() async throws {
        let h = Harness()
        let triggers = EventTriggers(workflows: [ticketWorkflow(dedupe: true)])
        let payload: Value = ["id": 7, "priority": "urgent", "queue": "support", "tier": "pro"]
        let first = try await h.engine.post(type: "ticket:created", payload: payload, to: triggers)
        #expect(first.count == 1)
        #expect(try await h.engine.post(type: "ticket:created", payload: payload, to: triggers) == first)
        let other = try await h.engine.post(type: "ticket:created", payload: payload.adding(key: "id", 8), to: triggers)
        #expect(other.count == 1)
        let runID = try #require(first.first)
        #expect(try await h.engine.drive(runID) == .completed)
        let state = try #require(try await h.store.state(of: runID))
        #expect(state.input == ["ticket_id": 7])
        #expect(state.triggerEvent == payload)
        try await h.expectJournalsFold()
    }
}

extension Value {
    func adding(key: String, _ value: Value) -> Value {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}

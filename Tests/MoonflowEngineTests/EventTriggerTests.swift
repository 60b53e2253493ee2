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
        let evaluation = await triggers.match(type: "ticket:created", payload: payload, evaluator: runner)
        #expect(evaluation.matches.map(\.input) == [["ticket_id": 42]])
        #expect(evaluation.failures.isEmpty)
        let closed = await triggers.match(type: "ticket:closed", payload: payload, evaluator: runner)
        #expect(closed.matches.isEmpty && closed.failures.isEmpty)
        var free = payload
        free = free.adding(key: "tier", "free")
        let unmatched = await triggers.match(type: "ticket:created", payload: free, evaluator: runner)
        #expect(unmatched.matches.isEmpty && unmatched.failures.isEmpty)
    }

    @Test func aSecondEventWithTheSameDedupeKeyReturnsTheExistingRun() async throws {
        let h = Harness()
        let triggers = EventTriggers(workflows: [ticketWorkflow(dedupe: true)])
        let payload: Value = ["id": 7, "priority": "urgent", "queue": "support", "tier": "pro"]
        let post = { (payload: Value) in
            try await h.engine.post(PostedEvent(type: "ticket:created", payload: payload), to: triggers).started.map(\.runID)
        }
        let first = try await post(payload)
        #expect(first.count == 1)
        #expect(try await post(payload) == first)
        let other = try await post(payload.adding(key: "id", 8))
        #expect(other.count == 1)
        let runID = try #require(first.first)
        #expect(try await h.engine.drive(runID) == .completed)
        let state = try #require(try await h.store.state(of: runID))
        #expect(state.input == ["ticket_id": 7])
        #expect(state.triggerEvent == payload)
        try await h.expectJournalsFold()
    }
}

/// Issue 13 item 12: every matching workflow is tried; one whose input schema refuses the event
/// starts nothing and the refusal is kept as a dead letter, announced on the bus.
@Suite struct EventDeadLetterTests {
    static let strictInput = SchemaDefinition(schema: [
        "type": "object", "required": ["amount"], "properties": ["amount": ["type": "integer"]],
    ])

    static func workflow(_ id: String, input: SchemaDefinition?) -> PinnedWorkflow {
        let trigger = Trigger(.event(type: "order:placed", conditions: [:]))
        return PinnedWorkflow(
            workflow: Workflow(id: id, version: "3", triggers: [trigger], input: input, activities: [lua("a")]), hash: "hash-\(id)")
    }

    @Test func aRefusingWorkflowIsDeadLetteredAndTheOthersStart() async throws {
        let h = Harness(validator: JSONSchemaValidator(schemaFiles: [:]))
        let triggers = EventTriggers(workflows: [Self.workflow("lenient", input: nil), Self.workflow("strict", input: Self.strictInput)])
        let bus = h.engine.events()
        let event = PostedEvent(type: "order:placed", payload: ["amount": "ten"], id: "evt-1")
        var created: [RunID] = []
        let outcome = try await h.engine.post(event, to: triggers) { created.append($0) }

        #expect(outcome.started.map(\.workflow) == ["lenient"])
        #expect(outcome.started.map(\.runID) == created)
        #expect(try await h.store.state(of: try #require(created.first))?.status == .queued)
        let letter = try #require(outcome.rejected.first)
        #expect(outcome.rejected.count == 1)
        #expect(letter.workflow == "strict")
        #expect(letter.version == "3")
        #expect(letter.definitionHash == "hash-strict")
        #expect(letter.event == event)
        #expect(letter.input == ["amount": "ten"])
        #expect(letter.status == .open)
        #expect(letter.errors.count == 1)
        #expect(letter.errors.first?.hasPrefix("amount: ") == true, "\(letter.errors)")
        #expect(letter.id.hasPrefix("dl-") && letter.id.count == 35)
        #expect(try await h.store.eventDeadLetter(id: letter.id) == letter)
        #expect(try await h.store.eventDeadLetters(workflow: "strict") == [letter])
        #expect(try await h.store.eventDeadLetters(workflow: "lenient").isEmpty)

        var announced: RunEvent?
        for await published in bus where published.type == .deadLetterCreated {
            announced = published
            break
        }
        #expect(announced?.workflow == "strict")
        #expect(announced?.data["dead_letter_id"] == .string(letter.id))
        #expect(announced?.data["event_type"] == "order:placed")
        #expect(announced?.data["errors"] == .array(letter.errors.map(Value.string)))

        // The same event (same id) again: the run is the one it started, the dead letter the one stored.
        let again = try await h.engine.post(event, to: triggers)
        #expect(again.started.map(\.created) == [false])
        #expect(again.rejected.map(\.id) == [letter.id])
        #expect(try await h.store.eventDeadLetters(workflow: nil).count == 1)
        // Without an id, each refusal is its own dead letter.
        let anonymous = PostedEvent(type: "order:placed", payload: ["amount": "ten"])
        let one = try await h.engine.post(anonymous, to: triggers).rejected.map(\.id)
        let two = try await h.engine.post(anonymous, to: triggers).rejected.map(\.id)
        #expect(one != two)
        #expect(try await h.store.eventDeadLetters(workflow: nil).map(\.id) == two + one + [letter.id])
        try await h.expectJournalsFold()
    }

    @Test func theDeadLetterEventTypeIsTheEngines() {
        #expect(EventType.deadLetterCreated.isReserved)
        #expect(!EventType("order:placed").isReserved)
    }
}

extension Value {
    func adding(key: String, _ value: Value) -> Value {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}

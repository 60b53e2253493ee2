import MoonflowEngine
import MoonflowModel
import Testing

/// The execution report (docs/cli.md), the journal and the store's guarantees (docs/durability.md).
@Suite(.timeLimit(.minutes(1))) struct ReportAndJournalTests {
    @Test func reportHasEveryFieldOfTheSpecWithSnakeCaseKeys() async throws {
        let h = Harness(["charge": returning(["receipt": "R1"], writes: ["paid": true]), "ship": failing(.init("Lost"), "gone")])
        let workflow = Workflow(
            id: "order", version: "1.10",
            activities: sequential([lua("charge", compensate: "refund"), lua("ship")]))
        let report = try await h.run(workflow, input: ["id": 5])
        let json = report.toValue()
        #expect(
            Array(json.objectValue!.keys) == [
                "run_id", "workflow", "version", "definition_hash", "status", "started_at", "finished_at", "duration_ms",
                "input", "context", "output", "error", "activities", "compensations", "tasks", "events",
            ])
        #expect(json["run_id"] == "run-1")
        #expect(json["workflow"] == "order")
        #expect(json["version"] == "1.10")
        #expect(json["definition_hash"] == "hash-order")
        #expect(json["status"] == "compensated")
        #expect(json["started_at"] == .string(h.clock.now.iso8601))
        #expect(json["duration_ms"] == 0)
        #expect(json["input"] == ["id": 5])
        #expect(json["context"] == ["paid": true])
        #expect(json["output"] == .null)
        #expect(json["error"] == ["type": "Lost", "message": "gone", "activity": "ship"])
        let charge = try #require(json["activities"]?.arrayValue?.first)
        #expect(
            Array(charge.objectValue!.keys) == [
                "name", "status", "attempts", "started_at", "finished_at", "duration_ms", "input", "output", "error", "seq",
                "via_fallback",
            ])
        #expect(charge["status"] == "completed")
        #expect(charge["attempts"] == 1)
        #expect(charge["seq"] == 1)
        #expect(charge["output"] == ["receipt": "R1"])
        #expect(charge["via_fallback"] == false)
        #expect(json["activities"]?.arrayValue?.last?["error"]?["type"] == "Lost")
        #expect(
            json["compensations"] == [
                [
                    "activity": "charge", "handler": "refund", "status": "completed", "attempts": 1,
                    "started_at": .string(h.clock.now.iso8601), "finished_at": .string(h.clock.now.iso8601),
                    // The scripted refund returns its input: `{input, output, error}` without `with`.
                    "output": [
                        "input": ["id": 5], "output": ["receipt": "R1"], "error": ["type": "Lost", "message": "gone", "attempts": 1],
                    ],
                    "error": nil,
                ]
            ])
        #expect(json["tasks"] == [])
        #expect(json["events"] == .int(Int64(try await h.store.journal(of: "run-1").count)))

        let text = report.renderText()
        #expect(text.contains("run run-1  workflow order v1.10  compensated  0ms"))
        #expect(text.contains("  charge  completed  attempts 1  0ms"))
        #expect(text.contains("  ship    failed  attempts 1  0ms  Lost: gone"))
        #expect(text.contains("undo charge with refund  completed"))
    }

    @Test func taskEntriesInTheReport() async throws {
        let h = Harness()
        let workflow = Workflow(
            id: "t", activities: [Activity(name: "ok", body: .manual(ManualTask(users: ["alice"], due: .seconds(60))))])
        let json = try await h.run(workflow).toValue()
        #expect(
            json["tasks"] == [
                [
                    "id": "run-1:ok:1", "activity": "ok", "status": "open", "assignees": ["users": ["alice"], "groups": []],
                    "due": .string((h.clock.now + .seconds(60)).iso8601),
                ]
            ])
        #expect(json["status"] == "waiting")
    }

    @Test func eventsRoundTripThroughTheirJSONShape() async throws {
        let h = Harness()
        _ = try await h.run(Workflow(id: "w", activities: sequential([lua("a"), lua("b")])))
        for event in try await h.store.journal(of: "run-1") {
            let text = event.journalValue.jsonString()
            #expect(try RunEvent(journalValue: try Value(json: text)) == event)
        }
    }

    @Test func storeRefusesAnAppendOnAStaleJournalOrAStateThatIsNotTheFold() async throws {
        let h = Harness()
        _ = try await h.run(Workflow(id: "w", activities: [Activity(name: "wait", body: .manual(ManualTask()))]))
        let state = try #require(try await h.store.state(of: "run-1"))
        let event = RunEvent(.runResumed, runID: "run-1", workflow: "w", at: h.clock.now)
        var stale = state
        stale.journalLength -= 1
        stale.apply(event)
        await #expect(throws: RunStoreError.self) { try await h.store.append("run-1", events: [event], newState: stale) }
        var wrong = state
        wrong.apply(event)
        wrong.status = .completed
        await #expect(throws: RunStoreError.stateMismatch(runID: "run-1")) {
            try await h.store.append("run-1", events: [event], newState: wrong)
        }
    }

    @Test func anActivityInterruptedByACrashRunsAgainAsTheNextAttempt() async throws {
        let h = Harness()
        let workflow = Workflow(id: "w", activities: sequential([lua("a"), lua("b")]))
        _ = try await h.engine.start(workflow: workflow, definitionHash: "h", input: [:], runID: "run-1")
        // A journal as a process that died while `a` ran attempt 1 would have left it.
        var state = try #require(try await h.store.state(of: "run-1"))
        let events = [
            RunEvent(.runStarted(deadline: nil), runID: "run-1", workflow: "w", at: h.clock.now),
            RunEvent(.activityScheduled(input: [:]), runID: "run-1", workflow: "w", activity: "a", at: h.clock.now),
            RunEvent(.activityStarted, runID: "run-1", workflow: "w", activity: "a", attempt: 1, at: h.clock.now),
        ]
        for event in events { state.apply(event) }
        try await h.store.append("run-1", events: events, newState: state)

        #expect(try await h.engine.drive("run-1") == .completed)
        let types = try await h.journalTypes()
        #expect(types.contains("activity.interrupted"))
        // Attempt n+1 with the same idempotency key; the interruption does not use up `max_attempts`.
        #expect(h.runner.executions == ["a#2", "b#1"])
        #expect(try await h.store.state(of: "run-1")?.activities["a"]?.interruptions == 1)
        try await h.expectJournalsFold()
    }
}

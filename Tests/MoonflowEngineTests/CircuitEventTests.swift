import MoonflowEngine
import MoonflowModel
import Testing

/// Breaker transitions are events (docs/resilience.md): on the bus, and in the history of the run
/// whose call caused them.
@Suite(.timeLimit(.minutes(1))) struct CircuitEventTests {
    @Test func aRunThatOpensABreakerRecordsItAndTheBusAnnouncesIt() async throws {
        let h = Harness(["pay": failing(.init("Down"))])
        let events = h.engine.events()
        let breaker = CircuitBreakerPolicy(name: "payments", threshold: 1, reset: .seconds(30))
        let workflow = Workflow(
            id: "cb",
            activities: [
                Activity(
                    name: "pay", body: .lua(ScriptChunk(source: "", name: "pay")), retry: RetryPolicy(maxAttempts: 1),
                    circuitBreaker: breaker)
            ])
        let report = try await h.run(workflow)
        #expect(report.status == .failed)
        let journal = try await h.store.journal(of: "run-1")
        let opened = journal.first { $0.type.rawValue == "circuit.opened" }
        #expect(opened?.activity == "pay")
        #expect(opened?.data["breaker"] == "payments")
        #expect(opened?.data["from"] == "closed")
        #expect(opened?.data["to"] == "open")
        var seen: RunEvent?
        for await event in events where event.type.rawValue == "circuit.opened" {
            seen = event
            break
        }
        #expect(seen?.runID == "run-1")
        #expect(seen?.data["breaker"] == "payments")

        // Half-open is reached by time, not by a call: the bus announces it without a run.
        h.clock.advance(by: .seconds(31))
        _ = h.engine.breakers.snapshot(named: "payments")
        for await event in events where event.type.rawValue == "circuit.half_open" {
            #expect(event.data["breaker"] == "payments")
            break
        }
    }
}

import Logging
import MoonflowEngine
import MoonflowLua
import MoonflowModel
import Testing

/// Terminate stops a run at once and never compensates — also a run that is compensating: the
/// compensation running is cancelled, none starts after it, and the run ends `terminated`. (It
/// used to wait until every compensation had run, retries included, and change nothing.)
@Suite struct TerminateWhileCompensatingTests {
    @Test func terminateStopsACompensationInFlight() async throws {
        let store = InMemoryRunStore()
        let engine = Engine(
            store: store, runner: LuaRunner(threads: 2), clock: SystemClock(), random: SeededRandomSource(seed: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let spin = Handler(
            body: .lua(ScriptChunk(source: "while true do end", name: "workflows/t.yaml#undo_b")))
        let quick = Handler(body: .lua(ScriptChunk(source: "return 1", name: "workflows/t.yaml#undo_a")))
        var a = Activity(name: "a", body: .lua(ScriptChunk(source: "return 1", name: "workflows/t.yaml#a")), compensate: Compensation(quick))
        a.limits = LimitOverrides(instructions: 1 << 40)
        var b = Activity(
            name: "b", dependencies: [Dependency("a")], body: .lua(ScriptChunk(source: "return 2", name: "workflows/t.yaml#b")),
            compensate: Compensation(spin))
        b.limits = LimitOverrides(instructions: 1 << 40)
        let approve = Activity(name: "approve", dependencies: [Dependency("b")], body: .manual(ManualTask(users: ["alice"])))
        let runID = try await engine.start(workflow: Workflow(id: "t", activities: [a, b, approve]), definitionHash: "h", input: [:])
        #expect(try await engine.drive(runID) == .waiting)

        // Cancelling compensates b (which spins), then a.
        let cancelling = Task { try await engine.cancel(runID) }
        var compensating = false
        for _ in 0..<2_000 where !compensating {
            compensating = try await store.journal(of: runID).contains { $0.type.rawValue == "compensation.started" }
            if !compensating { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(compensating)

        let began = ContinuousClock.now
        let terminated = try await engine.terminate(runID)
        let took = ContinuousClock.now - began
        #expect(terminated == .terminated)
        #expect(try await cancelling.value == .terminated)
        #expect(took < .seconds(8), "terminate took \(took)")

        let journal = try await store.journal(of: runID).map(\.type.rawValue)
        #expect(journal.last == "run.terminated")
        #expect(!journal.contains("run.compensated") && !journal.contains("run.compensation_failed"))
        let report = try await engine.report(runID)
        // b's compensation was cancelled; a's never started.
        #expect(report.compensations.map(\.activity) == ["b", "a"])
        #expect(report.compensations.map(\.status) == [.failed, .pending])
        #expect(report.compensations.first?.error?.type == "Cancelled")
    }
}

import Foundation
import Logging
import MoonflowEngine
import MoonflowLua
import MoonflowModel
import Testing

/// A run's only script, with no policy around it, runs in the driver's own task (no child task, no
/// mailbox round trip). Cancel, terminate and the workflow timeout must still stop it at once, as
/// they stop a script in a child task: the real sandbox spins until stopped, and its 60 s default
/// timeout would be the bound otherwise.
@Suite struct LoneScriptStopTests {
    private static let spin = ScriptChunk(source: "while true do end", name: "workflows/spin.yaml#spin")

    private static func engine(_ store: InMemoryRunStore) -> Engine {
        Engine(
            store: store, runner: LuaRunner(threads: 2), clock: SystemClock(), random: SeededRandomSource(seed: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    private static func workflow(timeout: Duration? = nil) -> Workflow {
        Workflow(
            id: "spin", timeout: timeout,
            activities: [Activity(name: "spin", body: .lua(spin), limits: LimitOverrides(instructions: 1 << 40))])
    }

    /// Waits until the script's attempt is journaled as started (it runs from then on).
    private static func waitUntilStarted(_ store: InMemoryRunStore, _ runID: RunID) async throws {
        for _ in 0..<2_000 {
            if try await store.journal(of: runID).contains(where: { $0.type.rawValue == "activity.started" }) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("the script never started")
    }

    @Test(arguments: [RunEnding.cancelled, .terminated])
    func anOperatorStopsTheLoneScriptAtOnce(_ ending: RunEnding) async throws {
        let store = InMemoryRunStore()
        let engine = Self.engine(store)
        let runID = try await engine.start(workflow: Self.workflow(), definitionHash: "h", input: [:])
        let driving = Task { try await engine.drive(runID) }
        try await Self.waitUntilStarted(store, runID)

        let began = ContinuousClock.now
        let stopped = try await ending == .cancelled ? engine.cancel(runID) : engine.terminate(runID)
        let driven = try await driving.value
        let took = ContinuousClock.now - began

        let expected: RunStatus = ending == .cancelled ? .cancelled : .terminated
        #expect(stopped == expected)
        #expect(driven == expected)
        #expect(took < .seconds(20), "stopping took \(took)")
        let journal = try await store.journal(of: runID).map(\.type.rawValue)
        #expect(journal.contains("activity.cancelled"))
        #expect(!journal.contains("activity.failed"))
        #expect(journal.firstIndex(of: "run.failing")! < journal.firstIndex(of: "activity.cancelled")!)
    }

    @Test func theWorkflowTimeoutStopsTheLoneScript() async throws {
        let store = InMemoryRunStore()
        let engine = Self.engine(store)
        let runID = try await engine.start(workflow: Self.workflow(timeout: .milliseconds(300)), definitionHash: "h", input: [:])

        let began = ContinuousClock.now
        let status = try await engine.drive(runID)
        let took = ContinuousClock.now - began

        #expect(status == .timedOut)
        #expect(took < .seconds(20), "the timeout took \(took)")
        let journal = try await store.journal(of: runID).map(\.type.rawValue)
        #expect(journal.contains("activity.cancelled"))
        #expect(!journal.contains("activity.failed"))
    }
}

import Foundation
import Logging
import MoonflowEngine
import MoonflowLua
import MoonflowModel
import Testing

/// A sandbox helper killed (kill -9) during an attempt (docs/sandbox.md): the attempt fails with
/// `SandboxCrashed`, an interruption the executor re-runs at once, and the run completes — in the
/// engine's process, which is still here to see it.
@Suite struct SandboxCrashTests {
    private static let helperExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("moonflow").path

    @Test func aKilledHelperInterruptsTheAttemptAndTheRetryCompletes() async throws {
        let runner = IsolatingRunner(
            inProcess: LuaRunner(threads: 1), helpers: .init(helpers: 1, executable: Self.helperExecutable, testLedger: nil))
        try runner.process.prestart(1)
        let pid = try #require(runner.process.idleHelpers.first)
        let store = InMemoryRunStore()
        let engine = Engine(
            store: store, runner: runner, clock: SystemClock(), random: SeededRandomSource(seed: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let chunk = ScriptChunk(
            source: "if activity.attempt == 1 then while true do end end return activity.attempt", name: "workflows/crash.yaml#work")
        // No policy at all: an interruption is re-run all the same.
        let workflow = Workflow(
            id: "crash",
            activities: [Activity(name: "work", body: .lua(chunk), limits: LimitOverrides(instructions: 1 << 40, isolation: .process))])
        let runID = try await engine.start(workflow: workflow, definitionHash: "h", input: [:])
        let driving = Task { try await engine.drive(runID) }
        // The helper is taken once the attempt runs in it.
        for _ in 0..<4_000 where runner.process.idleHelpers.contains(pid) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!runner.process.idleHelpers.contains(pid))
        try await Task.sleep(for: .milliseconds(50))
        #expect(kill(pid, SIGKILL) == 0)

        #expect(try await driving.value == .completed)
        let state = try #require(try await store.state(of: runID))
        #expect(state.activities["work"]?.output == 2)
        #expect(runner.process.counts.replaced == 1)
        let journal = try await store.journal(of: runID)
        #expect(journal.contains { String(describing: $0).contains("SandboxCrashed") })
    }
}

import MoonflowModel
import Synchronization

/// The runner `moonflow test` uses: mocked activities answer from their script of outcomes (after
/// a virtual delay on the test's clock); everything else runs for real. It counts real executions
/// in flight, so the virtual clock only moves when nothing is computing.
final class MockingRunner: ScriptRunning {
    private let real: any ScriptRunning
    private let mocks: [String: [WorkflowTestCase.MockOutcome]]
    private let mainBodies: [String: ScriptChunk]
    private let clock: ManualClock
    fileprivate let inFlight = Atomic<Int>(0)

    init(real: any ScriptRunning, mocks: [String: [WorkflowTestCase.MockOutcome]], workflow: Workflow, clock: ManualClock) {
        self.real = real
        self.mocks = mocks
        self.clock = clock
        var bodies: [String: ScriptChunk] = [:]
        for activity in workflow.activities {
            if case .lua(let chunk) = activity.body { bodies[activity.name] = chunk }
        }
        mainBodies = bodies
    }

    /// Real executions running now.
    var busy: Bool { inFlight.load(ordering: .acquiring) > 0 }

    func run(_ invocation: ScriptInvocation) async throws(ActivityFailure) -> ScriptOutcome {
        if let outcome = mockedOutcome(for: invocation) {
            if let delay = outcome.delay, delay > .zero {
                do {
                    try await clock.sleep(until: clock.now + delay)
                } catch {
                    throw ActivityFailure(.cancelled, "the attempt was cancelled")
                }
            }
            if let error = outcome.error { throw error }
            return ScriptOutcome(output: outcome.output ?? .null)
        }
        inFlight.add(1, ordering: .acquiringAndReleasing)
        defer { inFlight.subtract(1, ordering: .acquiringAndReleasing) }
        var invocation = invocation
        if let http = invocation.http { invocation.http = WaitingHTTP(base: http, runner: self) }
        return try await real.run(invocation)
    }

    func evaluate(_ template: ValueTemplate, scope: Value) async throws(ActivityFailure) -> Value {
        inFlight.add(1, ordering: .acquiringAndReleasing)
        defer { inFlight.subtract(1, ordering: .acquiringAndReleasing) }
        return try await real.evaluate(template, scope: scope)
    }

    /// An activity's own body is mocked under its name, its compensation under `<name>.compensate`;
    /// fallback bodies always run for real. The outcome of attempt n is the n-th, the last repeating.
    private func mockedOutcome(for invocation: ScriptInvocation) -> WorkflowTestCase.MockOutcome? {
        guard let name = invocation.activity["name"]?.stringValue else { return nil }
        let attempt = Int(invocation.activity["attempt"]?.intValue ?? 1)
        let key: String
        if invocation.role == .compensation {
            key = name + ".compensate"
        } else if mainBodies[name] == invocation.chunk {
            key = name
        } else {
            return nil
        }
        guard let outcomes = mocks[key], !outcomes.isEmpty else { return nil }
        return outcomes[min(max(attempt, 1), outcomes.count) - 1]
    }
}

/// A script's requests: while it waits on a (mocked) service it computes nothing, so the virtual
/// clock may move to the service's delay.
private struct WaitingHTTP: HTTPCalling {
    let base: any HTTPCalling
    let runner: MockingRunner

    func call(_ request: HTTPCall) async throws(ActivityFailure) -> HTTPCallResponse {
        runner.inFlight.subtract(1, ordering: .acquiringAndReleasing)
        defer { runner.inFlight.add(1, ordering: .acquiringAndReleasing) }
        return try await base.call(request)
    }
}

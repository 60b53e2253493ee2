package import MoonflowModel
import Synchronization

/// Run admission shared by the whole engine: `RunAdmissionMachine` behind a lock, reading the engine
/// clock. Nothing here waits: a queued run lives in the store (its entry is part of its `run.queued`
/// event, its `QueueTimeout` a durable timer), and the engine drives the runs this admits.
package final class RunAdmission: Sendable {
    private let machine: Mutex<RunAdmissionMachine>
    private let clock: any EngineClock

    package init(machine: RunAdmissionMachine, clock: any EngineClock) {
        self.machine = Mutex(machine)
        self.clock = clock
    }

    /// A new run asks to start at `now` (by default the clock's): the instant its queue deadline counts from.
    package func submit(runID: String, workflow: String, limits: ConcurrencyLimits?, priority: Int, now: Timestamp? = nil)
        -> RunAdmissionMachine.Decision
    {
        let now = now ?? clock.now
        return machine.withLock { $0.submit(runID: runID, workflow: workflow, limits: limits, priority: priority, now: now) }
    }

    /// The run ended or left the queue; returns the queued runs to start now.
    package func finished(runID: String) -> [RunQueueEntry] { machine.withLock { $0.finished(runID: runID) } }

    /// A run that waited resumes: it holds a slot again at once.
    package func resume(runID: String, workflow: String) { machine.withLock { $0.resume(runID: runID, workflow: workflow) } }

    package func isWaiting(_ runID: String) -> Bool { machine.withLock { $0.isWaiting(runID) } }

    /// Starts whatever fits (after a rebuild).
    package func admitWaiting() -> [RunQueueEntry] { machine.withLock { $0.admitWaiting() } }

    /// A workflow's limits changed (a reload): whatever now fits starts.
    package func update(workflow: String, limits: ConcurrencyLimits?) -> [RunQueueEntry] {
        machine.withLock { $0.update(workflow: workflow, limits: limits) }
    }

    package func snapshot() -> RunQueueSnapshot { machine.withLock { $0.snapshot } }
}

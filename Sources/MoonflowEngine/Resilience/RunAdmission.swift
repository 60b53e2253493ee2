import MoonflowModel
import Synchronization

/// Run admission shared by the whole engine: `RunAdmissionMachine` behind a lock, reading the engine
/// clock. Nothing here waits: a queued run lives in the store, and the run layer starts the entries
/// this returns. Its timer sleeps until `nextDeadline` and calls `expireDue()` to fail runs with
/// `QueueTimeout`.
public final class RunAdmission: Sendable {
    private let machine: Mutex<RunAdmissionMachine>
    private let clock: any EngineClock

    public init(machine: RunAdmissionMachine, clock: any EngineClock) {
        self.machine = Mutex(machine)
        self.clock = clock
    }

    public func submit(runID: String, workflow: String, limits: ConcurrencyLimits?, priority: Int)
        -> RunAdmissionMachine.Decision
    {
        let now = clock.now
        return machine.withLock { $0.submit(runID: runID, workflow: workflow, limits: limits, priority: priority, now: now) }
    }

    /// A run stopped holding its slot; returns the queued runs to start now.
    public func finished(workflow: String) -> [RunQueueEntry] { machine.withLock { $0.finished(workflow: workflow) } }

    /// Starts whatever fits (after a rebuild, or when limits changed).
    public func admitWaiting() -> [RunQueueEntry] { machine.withLock { $0.admitWaiting() } }

    /// The engine configuration was reloaded: new global limits, and whatever now fits starts.
    public func update(engineLimits: ConcurrencyLimits?) -> [RunQueueEntry] {
        machine.withLock { m in
            m.engineLimits = engineLimits
            return m.admitWaiting()
        }
    }

    /// Removes and returns the runs whose queue deadline has come (`QueueTimeout`).
    public func expireDue() -> [RunQueueEntry] {
        let now = clock.now
        return machine.withLock { $0.expire(now: now) }
    }

    public func withdraw(runID: String) -> RunQueueEntry? { machine.withLock { $0.withdraw(runID: runID) } }

    public var nextDeadline: Timestamp? { machine.withLock { $0.nextDeadline } }

    public func snapshot() -> RunQueueSnapshot { machine.withLock { $0.snapshot } }
}

import MoonflowModel
import Synchronization

/// A message to the task driving a run.
enum DriverMessage: Sendable {
    case attemptStarted(activity: String, attempt: Int, at: Timestamp, ack: CheckedContinuation<Void, Never>)
    case attemptFailed(
        activity: String, attempt: Int, failure: ActivityFailure, nextAttemptAt: Timestamp?,
        ack: CheckedContinuation<Void, Never>)
    case fallbackStarted(activity: String, failure: ActivityFailure, notify: Bool, ack: CheckedContinuation<Void, Never>)
    /// The `log.*` entries of one execution of a body (sent before how the attempt ended).
    case scriptLogs(activity: String, attempt: Int, entries: [ScriptLogEntry])
    /// An activity's (or a compensation's) execution ended; `outcome` is what its successful body returned.
    case finished(activity: String, result: ActivityExecutionResult, outcome: ScriptOutcome?)
    /// A child run's drive returned with this state.
    case childSettled(activity: String, child: RunState)
    /// A breaker changed state in this activity's call: the run records it (`circuit.*`).
    case circuitTransition(activity: String, transition: CircuitTransition)
    case deadline
    case stop(RunEnding)

    /// Lets a sender waiting for the driver's acknowledgement go when the message is dropped.
    func acknowledge() {
        switch self {
        case .attemptStarted(_, _, _, let ack), .attemptFailed(_, _, _, _, let ack), .fallbackStarted(_, _, _, let ack):
            ack.resume()
        case .scriptLogs, .finished, .childSettled, .circuitTransition, .deadline, .stop: break
        }
    }
}

/// One driver per run at a time: `drive`, `cancel`, `completeTask` and timers take the run's lease
/// in turn (first come, first served). The driver holding it registers a mailbox so that a
/// cancellation or termination reaches it while it runs.
final class RunLeases: Sendable {
    private struct Entry {
        var waiters: [CheckedContinuation<Void, Never>] = []
        var mailbox: AsyncStream<DriverMessage>.Continuation?
    }

    private let entries = Mutex<[String: Entry]>([:])

    func withLease<T>(_ runID: String, _ body: () async throws -> T) async rethrows -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = entries.withLock { entries in
                if var entry = entries[runID] {
                    entry.waiters.append(continuation)
                    entries[runID] = entry
                    return false
                }
                entries[runID] = Entry()
                return true
            }
            if granted { continuation.resume() }
        }
        defer { release(runID) }
        return try await body()
    }

    private func release(_ runID: String) {
        let next: CheckedContinuation<Void, Never>? = entries.withLock { entries in
            guard var entry = entries[runID], !entry.waiters.isEmpty else {
                entries[runID] = nil
                return nil
            }
            let next = entry.waiters.removeFirst()
            entry.mailbox = nil
            entries[runID] = entry
            return next
        }
        next?.resume()
    }

    func setMailbox(_ runID: String, _ mailbox: AsyncStream<DriverMessage>.Continuation?) {
        entries.withLock { entries in entries[runID]?.mailbox = mailbox }
    }

    /// Delivers a message to the run's active driver, if one is listening (else the caller,
    /// which takes the lease next, acts itself).
    func send(_ runID: String, _ message: DriverMessage) {
        entries.withLock { $0[runID]?.mailbox }?.yield(message)
    }
}

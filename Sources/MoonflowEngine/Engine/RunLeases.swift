import Synchronization

/// One driver per run at a time: `drive`, `cancel`, `completeTask` and timers take the run's lease
/// in turn (first come, first served). The driver holding it registers its inbox so that a
/// cancellation or termination reaches it while it runs.
final class RunLeases: Sendable {
    private struct Entry {
        var waiters: [CheckedContinuation<Void, Never>] = []
        var inbox: DriverInbox?
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
            entry.inbox = nil
            entries[runID] = entry
            return next
        }
        next?.resume()
    }

    func setInbox(_ runID: String, _ inbox: DriverInbox?) {
        entries.withLock { entries in entries[runID]?.inbox = inbox }
    }

    /// Delivers a message to the run's active driver, if one is listening (else the caller,
    /// which takes the lease next, acts itself).
    func send(_ runID: String, _ message: DriverMessage) {
        entries.withLock { $0[runID]?.inbox }?.deliver(message)
    }
}

package import MoonflowModel
import Synchronization

/// The engine's source of time. Everything that waits (backoffs, timeouts, breaker resets, queue
/// waits, task due dates) reads `now` and sleeps through this, so tests drive time by hand.
package protocol EngineClock: Sendable {
    var now: Timestamp { get }
    /// Suspends until `deadline` (returns at once if it has passed). Throws `CancellationError`
    /// when the calling task is cancelled.
    func sleep(until deadline: Timestamp) async throws
}

/// Real wall-clock time.
package struct SystemClock: EngineClock {
    package init() {}

    package var now: Timestamp { Timestamp(.now) }

    package func sleep(until deadline: Timestamp) async throws {
        let remaining = deadline - now
        if remaining > .zero { try await Task.sleep(for: remaining) }
    }
}

/// A clock that moves only when a test calls `advance`. Sleepers wake in deadline order
/// (ties in the order they started sleeping) when time reaches their deadline.
package final class ManualClock: EngineClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Timestamp
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
    }

    private let state: Mutex<State>

    package init(now: Timestamp = Timestamp(nanosecondsSinceEpoch: 1_800_000_000_000_000_000)) {
        state = Mutex(State(now: now))
    }

    package var now: Timestamp { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock (tests wait for this to reach an expected count).
    package var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline anyone sleeps until.
    package var nextDeadline: Timestamp? { state.withLock { $0.sleepers.map(\.deadline).min() } }

    package func sleep(until deadline: Timestamp) async throws {
        let id: UInt64 = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if deadline <= s.now { return true }
                    if Task.isCancelled { return false }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else if Task.isCancelled, !state.withLock({ s in s.sleepers.contains { $0.id == id } }) {
                    continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let cancelled: Sleeper? = state.withLock { s in
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has been reached.
    package func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    package func advance(to instant: Timestamp) {
        let due: [Sleeper] = state.withLock { s in
            if instant > s.now { s.now = instant }
            let due = s.sleepers.filter { $0.deadline <= s.now }.sorted {
                ($0.deadline, $0.id) < ($1.deadline, $1.id)
            }
            s.sleepers.removeAll { $0.deadline <= s.now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}

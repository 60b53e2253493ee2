package import MoonflowModel
import Synchronization

/// A held bulkhead permit. Give it back with `Bulkhead.release(_:)` (or use `withPermit`).
package struct BulkheadPermit: Sendable, Hashable {
    let id: UInt64
    /// When it was granted: an attempt's `timeout` starts here (docs/resilience.md).
    package let grantedAt: Timestamp
}

/// A bulkhead shared by every caller of one name: `BulkheadMachine` behind a lock, waiters parked
/// on continuations, queue deadlines slept on the engine clock.
package final class Bulkhead: Sendable {
    private enum Outcome: Sendable {
        case granted
        case failed(ActivityFailure)
    }

    /// A queued caller: its continuation once parked, or its outcome if that came first.
    private enum Slot {
        case pending
        case parked(CheckedContinuation<Outcome, Never>)
        case resolved(Outcome)
    }

    private struct State {
        var machine: BulkheadMachine
        var nextID: UInt64 = 0
        var slots: [UInt64: Slot] = [:]

        /// Settles a queued caller; returns the continuation to resume outside the lock.
        mutating func resolve(_ id: UInt64, _ outcome: Outcome) -> (CheckedContinuation<Outcome, Never>, Outcome)? {
            switch slots[id] {
            case .parked(let continuation):
                slots[id] = nil
                return (continuation, outcome)
            case .pending:
                slots[id] = .resolved(outcome)
                return nil
            case .resolved, nil:
                return nil
            }
        }
    }

    private let state: Mutex<State>
    private let clock: any EngineClock

    package init(policy: BulkheadPolicy, clock: any EngineClock) {
        state = Mutex(State(machine: BulkheadMachine(policy: policy)))
        self.clock = clock
    }

    /// The engine-wide `max_activities` gate (docs/resilience.md): the same FIFO permits, an unbounded
    /// queue, no wait limit.
    package static func activityGate(maxActivities: Int, clock: any EngineClock) -> Bulkhead {
        Bulkhead(
            policy: BulkheadPolicy(name: "engine/max_activities", maxConcurrent: maxActivities, maxQueueSize: .max),
            clock: clock)
    }

    package func snapshot() -> BulkheadSnapshot { state.withLock { $0.machine.snapshot } }

    /// Waits for a permit: at once when one is free and nobody waits, else in FIFO order. Throws
    /// `BulkheadFull` when the queue is full, `BulkheadTimeout` when the wait reaches the bulkhead's
    /// `timeout` or `notAfter`, whichever is earlier, and `Cancelled` when the calling task is
    /// cancelled (the caller then leaves the queue without disturbing anyone else's turn).
    package func acquire(notAfter: Timestamp? = nil) async throws(ActivityFailure) -> BulkheadPermit {
        let now = clock.now
        let (id, request) = state.withLock { s in
            s.nextID += 1
            let request = s.machine.request(s.nextID, now: now, notAfter: notAfter)
            if case .queued = request { s.slots[s.nextID] = .pending }
            return (s.nextID, request)
        }
        let deadline: Timestamp?
        switch request {
        case .granted: return BulkheadPermit(id: id, grantedAt: now)
        case .rejected(let failure): throw failure
        case .queued(let d): deadline = d
        }

        let outcome = await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { [self] in
                    // Cancelled when the wait ends another way; otherwise expire whoever is due.
                    if (try? await clock.sleep(until: deadline)) != nil { expireDue() }
                }
            }
            let outcome = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                    let ready: Outcome? = state.withLock { s in
                        if case .resolved(let outcome) = s.slots[id] {
                            s.slots[id] = nil
                            return outcome
                        }
                        s.slots[id] = .parked(continuation)
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                withdraw(id)
            }
            group.cancelAll()
            return outcome
        }

        switch outcome {
        case .granted:
            let permit = BulkheadPermit(id: id, grantedAt: clock.now)
            if Task.isCancelled {
                release(permit)
                throw ActivityFailure(.cancelled, "cancelled while waiting for bulkhead '\(snapshot().name)'")
            }
            return permit
        case .failed(let failure):
            throw failure
        }
    }

    /// Gives a permit back (idempotent) and hands it to the next waiter, if any.
    package func release(_ permit: BulkheadPermit) {
        let wake = state.withLock { s in s.machine.release(permit.id).compactMap { s.resolve($0, .granted) } }
        wake.forEach { $0.0.resume(returning: $0.1) }
    }

    /// Runs `body` holding a permit, released on every path: return, and cancellation of the caller.
    package func withPermit<T: Sendable>(
        notAfter: Timestamp? = nil, _ body: (BulkheadPermit) async -> T
    ) async throws(ActivityFailure) -> T {
        let permit = try await acquire(notAfter: notAfter)
        defer { release(permit) }
        return await body(permit)
    }

    /// Takes new settings from a reload; a higher `max_concurrent` admits waiters at once.
    func update(policy: BulkheadPolicy) {
        let wake = state.withLock { s -> [(CheckedContinuation<Outcome, Never>, Outcome)] in
            guard s.machine.policy != policy else { return [] }
            return s.machine.update(policy: policy).compactMap { s.resolve($0, .granted) }
        }
        wake.forEach { $0.0.resume(returning: $0.1) }
    }

    private func expireDue() {
        let now = clock.now
        let wake = state.withLock { s in
            let name = s.machine.policy.name
            return s.machine.expire(now: now).compactMap {
                s.resolve($0, .failed(ActivityFailure(.bulkheadTimeout, "no permit of bulkhead '\(name)' in time")))
            }
        }
        wake.forEach { $0.0.resume(returning: $0.1) }
    }

    private func withdraw(_ id: UInt64) {
        let wake = state.withLock { s -> (CheckedContinuation<Outcome, Never>, Outcome)? in
            guard s.machine.withdraw(id) else { return nil }
            let name = s.machine.policy.name
            return s.resolve(id, .failed(ActivityFailure(.cancelled, "cancelled while waiting for bulkhead '\(name)'")))
        }
        if let (continuation, outcome) = wake { continuation.resume(returning: outcome) }
    }
}

/// Every bulkhead of the process, by name (docs/resilience.md), shared by all runs, workflows and versions.
package final class BulkheadRegistry: Sendable {
    private let bulkheads = Mutex<[String: Bulkhead]>([:])
    private let clock: any EngineClock

    package init(clock: any EngineClock) { self.clock = clock }

    /// The bulkhead named `policy.name`, created on first use. Other settings than it has (a reload)
    /// are applied at once, keeping permits and queue: the definition that used it last applies.
    package func bulkhead(for policy: BulkheadPolicy) -> Bulkhead {
        let bulkhead = bulkheads.withLock { all in
            if let existing = all[policy.name] { return existing }
            let created = Bulkhead(policy: policy, clock: clock)
            all[policy.name] = created
            return created
        }
        bulkhead.update(policy: policy)
        return bulkhead
    }

    package func snapshot(named name: String) -> BulkheadSnapshot? {
        bulkheads.withLock { $0[name] }?.snapshot()
    }

    /// Every bulkhead, sorted by name.
    package func snapshots() -> [BulkheadSnapshot] {
        bulkheads.withLock { Array($0.values) }.map { $0.snapshot() }.sorted { $0.name < $1.name }
    }
}

package import MoonflowModel

/// What monitoring sees of one bulkhead.
package struct BulkheadSnapshot: Sendable, Hashable {
    package var name: String
    package var maxConcurrent: Int
    package var maxQueueSize: Int
    package var inUse: Int
    package var queued: Int

    package init(name: String, maxConcurrent: Int, maxQueueSize: Int, inUse: Int, queued: Int) {
        self.name = name
        self.maxConcurrent = maxConcurrent
        self.maxQueueSize = maxQueueSize
        self.inUse = inUse
        self.queued = queued
    }
}

/// A bulkhead (docs/resilience.md) as a pure state machine over caller ids: permits, a strictly FIFO queue
/// and the queue deadlines, with time passed in. Never more than `max_concurrent` holders.
package struct BulkheadMachine: Sendable {
    package enum Request: Sendable, Hashable {
        /// A permit, at once.
        case granted
        /// In the queue; it fails with `BulkheadTimeout` at `deadline` if still waiting.
        case queued(deadline: Timestamp?)
        /// `BulkheadFull`.
        case rejected(ActivityFailure)
    }

    private struct Waiter: Sendable, Hashable {
        var id: UInt64
        var deadline: Timestamp?
    }

    package private(set) var policy: BulkheadPolicy
    private var holders: Set<UInt64> = []
    /// Oldest first.
    private var queue: [Waiter] = []

    package init(policy: BulkheadPolicy) { self.policy = policy }

    package var inUse: Int { holders.count }
    package var queued: Int { queue.count }

    package var snapshot: BulkheadSnapshot {
        BulkheadSnapshot(
            name: policy.name, maxConcurrent: policy.maxConcurrent, maxQueueSize: policy.maxQueueSize, inUse: inUse,
            queued: queued)
    }

    /// Caller `id` asks for a permit at `now`. Its queue wait ends at `now + timeout`, or at
    /// `notAfter` when that is earlier (the activity's own budget).
    package mutating func request(_ id: UInt64, now: Timestamp, notAfter: Timestamp? = nil) -> Request {
        if queue.isEmpty, holders.count < policy.maxConcurrent {
            holders.insert(id)
            return .granted
        }
        guard queue.count < policy.maxQueueSize else {
            return .rejected(ActivityFailure(
                .bulkheadFull,
                "bulkhead '\(policy.name)' is full (\(policy.maxConcurrent) running, \(queue.count) queued)"))
        }
        let own = policy.timeout.map { now + $0 }
        let deadline = [own, notAfter].compactMap { $0 }.min()
        queue.append(Waiter(id: id, deadline: deadline))
        return .queued(deadline: deadline)
    }

    /// `id` is done with its permit (any path). Releasing twice, or without a permit, does nothing.
    /// Returns the waiters granted a permit in its place, in queue order.
    package mutating func release(_ id: UInt64) -> [UInt64] {
        guard holders.remove(id) != nil else { return [] }
        return admitWaiting()
    }

    /// Removes every waiter whose deadline has come; they fail with `BulkheadTimeout`.
    package mutating func expire(now: Timestamp) -> [UInt64] {
        let expired = queue.filter { $0.deadline.map { $0 <= now } ?? false }.map(\.id)
        queue.removeAll { $0.deadline.map { $0 <= now } ?? false }
        return expired
    }

    /// A queued caller gave up (cancelled): it leaves the queue without taking or skipping anyone's
    /// turn. Returns whether it was queued.
    package mutating func withdraw(_ id: UInt64) -> Bool {
        guard let index = queue.firstIndex(where: { $0.id == id }) else { return false }
        queue.remove(at: index)
        return true
    }

    /// New settings from a reload. Permits already held are never revoked; a higher
    /// `max_concurrent` admits waiters at once (returned in queue order).
    package mutating func update(policy newPolicy: BulkheadPolicy) -> [UInt64] {
        policy = newPolicy
        return admitWaiting()
    }

    private mutating func admitWaiting() -> [UInt64] {
        var granted: [UInt64] = []
        while holders.count < policy.maxConcurrent, !queue.isEmpty {
            let next = queue.removeFirst()
            holders.insert(next.id)
            granted.append(next.id)
        }
        return granted
    }
}

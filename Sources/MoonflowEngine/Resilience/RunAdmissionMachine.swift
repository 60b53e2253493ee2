import MoonflowModel

/// A run waiting to start (SPEC §5.8). Its place in the queue follows from its stored fields only
/// (`priority`, `sequence`), so the store can rebuild the queue after a restart; its `deadline`
/// is the absolute `QueueTimeout` instant, stored too.
public struct RunQueueEntry: Sendable, Hashable {
    public var runID: String
    public var workflow: String
    public var priority: Int
    /// Enqueue order across the whole engine; ties of priority go to the lower sequence.
    public var sequence: UInt64
    public var enqueuedAt: Timestamp
    public var deadline: Timestamp?

    public init(runID: String, workflow: String, priority: Int, sequence: UInt64, enqueuedAt: Timestamp, deadline: Timestamp?) {
        self.runID = runID
        self.workflow = workflow
        self.priority = priority
        self.sequence = sequence
        self.enqueuedAt = enqueuedAt
        self.deadline = deadline
    }
}

/// What monitoring sees of run admission.
public struct RunQueueSnapshot: Sendable, Hashable {
    public var running: [String: Int]
    public var totalRunning: Int
    /// In the order they would start if every limit had room.
    public var queued: [RunQueueEntry]

    public init(running: [String: Int], totalRunning: Int, queued: [RunQueueEntry]) {
        self.running = running
        self.totalRunning = totalRunning
        self.queued = queued
    }
}

/// Run admission (SPEC §5.8) as a pure state machine: `max_workflows` per workflow and engine-wide,
/// and the queue of runs beyond them.
///
/// Ordering: among the runs of one workflow, that workflow's `strategy` decides (fifo: by
/// sequence; priority: higher first, ties by sequence). Across workflows, the engine's strategy
/// decides among the head runs of workflows that have room. A run never waits behind a run of
/// another workflow that cannot start because its own workflow is full.
public struct RunAdmissionMachine: Sendable {
    public enum Decision: Sendable, Hashable {
        /// Start it now (it is counted as running).
        case start
        /// Accepted as `queued`; store the entry.
        case queued(RunQueueEntry)
        /// `QueueFull`.
        case rejected(ActivityFailure)
    }

    public var engineLimits: ConcurrencyLimits?
    private var workflowLimits: [String: ConcurrencyLimits] = [:]
    private var running: [String: Int] = [:]
    private var totalRunning = 0
    private var waiting: [RunQueueEntry] = []
    private var nextSequence: UInt64 = 1

    public init(engineLimits: ConcurrencyLimits?) { self.engineLimits = engineLimits }

    /// The state after a restart: the stored queue entries (any order), the runs already running
    /// per workflow, and the limits of the workflows involved. Call `admitWaiting()` next: limits
    /// may have been raised while the engine was down.
    public init(
        engineLimits: ConcurrencyLimits?, workflowLimits: [String: ConcurrencyLimits], running: [String: Int],
        queued: [RunQueueEntry]
    ) {
        self.engineLimits = engineLimits
        self.workflowLimits = workflowLimits
        self.running = running.filter { $0.value > 0 }
        self.totalRunning = running.values.reduce(0, +)
        self.waiting = queued
        self.nextSequence = (queued.map(\.sequence).max() ?? 0) + 1
    }

    public var snapshot: RunQueueSnapshot {
        RunQueueSnapshot(running: running, totalRunning: totalRunning, queued: waiting.sorted(by: engineOrder))
    }

    /// The earliest `QueueTimeout` deadline, for the engine's timer.
    public var nextDeadline: Timestamp? { waiting.compactMap(\.deadline).min() }

    /// A new run of `workflow` (whose pinned definition has `limits`) asks to start at `now`.
    public mutating func submit(runID: String, workflow: String, limits: ConcurrencyLimits?, priority: Int, now: Timestamp)
        -> Decision
    {
        workflowLimits[workflow] = limits
        if hasRoom(workflow) {
            markRunning(workflow)
            return .start
        }
        let ownQueued = waiting.count { $0.workflow == workflow }
        if let max = limits?.queueMaxSize, ownQueued >= max {
            return .rejected(ActivityFailure(.queueFull, "run queue of workflow '\(workflow)' is full (\(max))"))
        }
        if let max = engineLimits?.queueMaxSize, waiting.count >= max {
            return .rejected(ActivityFailure(.queueFull, "engine run queue is full (\(max))"))
        }
        let deadline = [limits?.queueTimeout, engineLimits?.queueTimeout].compactMap { $0.map { now + $0 } }.min()
        let entry = RunQueueEntry(
            runID: runID, workflow: workflow, priority: priority, sequence: nextSequence, enqueuedAt: now,
            deadline: deadline)
        nextSequence += 1
        waiting.append(entry)
        return .queued(entry)
    }

    /// A running run of `workflow` ended (or stopped holding its slot). Returns the queued runs
    /// to start now, in order; they are counted as running.
    public mutating func finished(workflow: String) -> [RunQueueEntry] {
        if let count = running[workflow], count > 0 {
            running[workflow] = count > 1 ? count - 1 : nil
            totalRunning -= 1
        }
        return admitWaiting()
    }

    /// Starts every queued run that fits, best first (after a restart or a change of limits).
    public mutating func admitWaiting() -> [RunQueueEntry] {
        var started: [RunQueueEntry] = []
        while let next = bestStartable() {
            waiting.removeAll { $0.runID == next.runID }
            markRunning(next.workflow)
            started.append(next)
        }
        return started
    }

    /// Removes the queued runs whose deadline has come: they fail with `QueueTimeout`.
    public mutating func expire(now: Timestamp) -> [RunQueueEntry] {
        let isDue = { (entry: RunQueueEntry) in entry.deadline.map { $0 <= now } ?? false }
        let expired = waiting.filter(isDue).sorted(by: engineOrder)
        waiting.removeAll(where: isDue)
        return expired
    }

    /// A queued run was cancelled: it leaves the queue. Returns its entry, if it was queued.
    public mutating func withdraw(runID: String) -> RunQueueEntry? {
        guard let index = waiting.firstIndex(where: { $0.runID == runID }) else { return nil }
        return waiting.remove(at: index)
    }

    private func hasRoom(_ workflow: String) -> Bool {
        if let max = engineLimits?.maxWorkflows, totalRunning >= max { return false }
        if let max = workflowLimits[workflow]?.maxWorkflows, running[workflow, default: 0] >= max { return false }
        return true
    }

    private mutating func markRunning(_ workflow: String) {
        running[workflow, default: 0] += 1
        totalRunning += 1
    }

    private func bestStartable() -> RunQueueEntry? {
        let heads = Dictionary(grouping: waiting, by: \.workflow).compactMap { workflow, entries in
            hasRoom(workflow) ? entries.min(by: order(workflowLimits[workflow]?.strategy)) : nil
        }
        return heads.min(by: engineOrder)
    }

    private func engineOrder(_ a: RunQueueEntry, _ b: RunQueueEntry) -> Bool { order(engineLimits?.strategy)(a, b) }

    private func order(_ strategy: ConcurrencyLimits.Strategy?) -> (RunQueueEntry, RunQueueEntry) -> Bool {
        switch strategy ?? .fifo {
        case .fifo: { $0.sequence < $1.sequence }
        case .priority: { ($1.priority, $0.sequence) < ($0.priority, $1.sequence) }
        }
    }
}

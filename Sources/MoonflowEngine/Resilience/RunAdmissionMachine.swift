package import MoonflowModel

/// A run waiting to start (docs/resilience.md). Its place in the queue follows from its stored fields only
/// (`priority`, `sequence`), so the store can rebuild the queue after a restart; its `deadline`
/// is the absolute `QueueTimeout` instant, stored too.
package struct RunQueueEntry: Sendable, Hashable {
    package var runID: String
    package var workflow: String
    package var priority: Int
    /// Enqueue order across the whole engine; ties of priority go to the lower sequence.
    package var sequence: UInt64
    package var enqueuedAt: Timestamp
    package var deadline: Timestamp?

    package init(runID: String, workflow: String, priority: Int, sequence: UInt64, enqueuedAt: Timestamp, deadline: Timestamp?) {
        self.runID = runID
        self.workflow = workflow
        self.priority = priority
        self.sequence = sequence
        self.enqueuedAt = enqueuedAt
        self.deadline = deadline
    }
}

/// What monitoring sees of run admission.
package struct RunQueueSnapshot: Sendable, Hashable {
    package var running: [String: Int]
    package var totalRunning: Int
    /// In the order they would start if every limit had room.
    package var queued: [RunQueueEntry]

    package init(running: [String: Int], totalRunning: Int, queued: [RunQueueEntry]) {
        self.running = running
        self.totalRunning = totalRunning
        self.queued = queued
    }
}

/// Run admission (docs/resilience.md) as a pure state machine: `max_workflows` per workflow and engine-wide,
/// and the queue of runs beyond them. A run holds a slot while it runs or compensates; a run
/// waiting on a human, a timer or a child run gives it back, and takes one again at once when it
/// resumes, even over the limit (an answer is never queued behind new runs; new runs wait until
/// the count is back under it). Slots are tracked by run id, so ending twice frees once.
///
/// Ordering: among the runs of one workflow, that workflow's `strategy` decides (fifo: by
/// sequence; priority: higher first, ties by sequence). Across workflows, the engine's strategy
/// decides among the head runs of workflows that have room. A run never waits behind a run of
/// another workflow that cannot start because its own workflow is full.
package struct RunAdmissionMachine: Sendable {
    package enum Decision: Sendable, Hashable {
        /// Start it now (it holds a slot).
        case start
        /// Accepted as `queued`; store the entry.
        case queued(RunQueueEntry)
        /// `QueueFull`.
        case rejected(ActivityFailure)
        /// The run is known already (a concurrent start with the same id): nothing changed.
        case duplicate
    }

    package var engineLimits: ConcurrencyLimits?
    private var workflowLimits: [String: ConcurrencyLimits] = [:]
    /// Run id → workflow, for every run holding a slot.
    private var holders: [String: String] = [:]
    private var running: [String: Int] = [:]
    private var waiting: [RunQueueEntry] = []
    private var nextSequence: UInt64 = 1

    package init(engineLimits: ConcurrencyLimits?) { self.engineLimits = engineLimits }

    /// The state after a restart: the stored queue entries (any order), the runs holding a slot
    /// (run id → workflow), and the limits of the workflows involved. Call `admitWaiting()` next:
    /// limits may have been raised while the engine was down.
    package init(
        engineLimits: ConcurrencyLimits?, workflowLimits: [String: ConcurrencyLimits], holders: [String: String],
        queued: [RunQueueEntry]
    ) {
        self.engineLimits = engineLimits
        self.workflowLimits = workflowLimits
        self.holders = holders
        for workflow in holders.values { running[workflow, default: 0] += 1 }
        self.waiting = queued
        self.nextSequence = (queued.map(\.sequence).max() ?? 0) + 1
    }

    package var snapshot: RunQueueSnapshot {
        RunQueueSnapshot(running: running, totalRunning: holders.count, queued: waiting.sorted(by: engineOrder))
    }

    /// Whether the run waits in the queue (accepted, not admitted).
    package func isWaiting(_ runID: String) -> Bool { waiting.contains { $0.runID == runID } }

    /// A new run of `workflow` (whose definition has `limits`) asks to start at `now`.
    package mutating func submit(runID: String, workflow: String, limits: ConcurrencyLimits?, priority: Int, now: Timestamp)
        -> Decision
    {
        if holders[runID] != nil || isWaiting(runID) { return .duplicate }
        workflowLimits[workflow] = limits
        if hasRoom(workflow) {
            hold(runID, workflow)
            return .start
        }
        let decision = Self.queueing(
            runID: runID, workflow: workflow, limits: limits, engineLimits: engineLimits, priority: priority, now: now,
            sequence: nextSequence, ownQueued: waiting.count { $0.workflow == workflow }, allQueued: waiting.count)
        if case .queued(let entry) = decision {
            nextSequence += 1
            waiting.append(entry)
        }
        return decision
    }

    /// A run that found no room: refused with `QueueFull` when its workflow's queue (`ownQueued`
    /// runs) or the engine's (`allQueued`) is at its `max_size`, else queued at `sequence` with
    /// the nearer of the two queue timeouts as its deadline.
    package static func queueing(
        runID: String, workflow: String, limits: ConcurrencyLimits?, engineLimits: ConcurrencyLimits?, priority: Int, now: Timestamp,
        sequence: UInt64, ownQueued: Int, allQueued: Int
    ) -> Decision {
        if let max = limits?.queueMaxSize, ownQueued >= max {
            return .rejected(
                ActivityFailure(.queueFull, "the run queue of workflow '\(workflow)' is full (concurrency.queuing.max_size: \(max))"))
        }
        if let max = engineLimits?.queueMaxSize, allQueued >= max {
            return .rejected(ActivityFailure(.queueFull, "the engine's run queue is full (moonflow.yaml concurrency.queuing.max_size: \(max))"))
        }
        let deadline = [limits?.queueTimeout, engineLimits?.queueTimeout].compactMap { $0.map { now + $0 } }.min()
        return .queued(
            RunQueueEntry(runID: runID, workflow: workflow, priority: priority, sequence: sequence, enqueuedAt: now, deadline: deadline))
    }

    /// The run ended (or left the queue): its slot, or its place in the queue, is given back.
    /// Returns the queued runs to start now, in order; they hold their slots. Idempotent.
    package mutating func finished(runID: String) -> [RunQueueEntry] {
        if let workflow = holders.removeValue(forKey: runID) {
            running[workflow] = running[workflow].flatMap { $0 > 1 ? $0 - 1 : nil }
        } else {
            waiting.removeAll { $0.runID == runID }
        }
        return admitWaiting()
    }

    /// A run that waited resumes: it holds a slot again, without queueing.
    package mutating func resume(runID: String, workflow: String) {
        guard holders[runID] == nil else { return }
        hold(runID, workflow)
    }

    /// Starts every queued run that fits, best first (after a restart or a change of limits).
    package mutating func admitWaiting() -> [RunQueueEntry] {
        var started: [RunQueueEntry] = []
        while let next = bestStartable() {
            waiting.removeAll { $0.runID == next.runID }
            hold(next.runID, next.workflow)
            started.append(next)
        }
        return started
    }

    /// A workflow's limits changed (a reload): whatever now fits starts.
    package mutating func update(workflow: String, limits: ConcurrencyLimits?) -> [RunQueueEntry] {
        workflowLimits[workflow] = limits
        return admitWaiting()
    }

    private func hasRoom(_ workflow: String) -> Bool {
        if let max = engineLimits?.maxWorkflows, holders.count >= max { return false }
        if let max = workflowLimits[workflow]?.maxWorkflows, running[workflow, default: 0] >= max { return false }
        return true
    }

    private mutating func hold(_ runID: String, _ workflow: String) {
        holders[runID] = workflow
        running[workflow, default: 0] += 1
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

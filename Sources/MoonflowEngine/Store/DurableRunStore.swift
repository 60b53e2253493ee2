package import MoonflowModel

/// A store that keeps runs beyond the process (SQLite, PostgreSQL): what operators and the
/// conformance tests read besides `RunStore`, from the summary tables a durable store writes in
/// the transaction of the journal rows they follow from (docs/durability.md).
package protocol DurableRunStore: RunStore {
    /// Compares the stored state of every run with the fold of its journal: one line per
    /// difference, empty when the store is consistent (docs/durability.md).
    func verify() async throws -> [String]
    /// Runs waiting to start, in queue order (docs/resilience.md).
    func queuedRuns() async throws -> [RunQueueEntry]
    /// Every stored definition version of a workflow, oldest first.
    func definitionVersions(of workflow: String) async throws -> [(version: Int, hash: String)]
    /// Notes a run recovery could not drive; the reason is kept as every error text is (`SafeText.errorMessage`).
    func recordDeadLetter(runID: String, reason: String, at: Timestamp) async throws
    func deadLetters() async throws -> [DeadLetter]
    /// Transactions committed and writes they held so far (mean batch size = writes / transactions).
    var commitStatistics: (transactions: Int, writes: Int) { get }
    /// Retention (docs/durability.md): deletes at most `limit` runs that ended (`RunStatus.expirable`)
    /// with their last write before `cutoff` — journal, activities, tasks, timers and all — in one
    /// short transaction, and returns how many. Kept: a run whose parent has not ended, and the
    /// runs holding the highest run and journal positions (new positions continue after them).
    func deleteFinishedRuns(before cutoff: Timestamp, limit: Int) async throws -> Int
}

extension RunStatus {
    /// The ends retention deletes: all but `compensation_failed`, which waits for an operator.
    package static let expirable: [RunStatus] = [.completed, .failed, .compensated, .timedOut, .cancelled, .terminated]
}

/// A durable store several engine processes share (PostgreSQL, docs/scale-out.md). A run is
/// driven by one process at a time: the process that created it or last claimed it, while that
/// process's lease lives (the store renews it, one heartbeat per process). Every write of a
/// transition checks the claim; a run that waits (on a timer or a task) or ended is nobody's.
package protocol SharedRunStore: DurableRunStore {
    /// This process's id in the store (`processes`).
    var processID: String { get }
    /// The run's state for a driver of this process: what this process's own last write stored,
    /// while its claim on the run holds (no round trip), else `state(of:)`. Every write checks the
    /// claim, so a state gone stale behind a lost claim is never written over.
    func stateToDrive(of runID: String) async throws -> RunState?
    /// Claims up to `limit` runs that are ready and nobody's — queued, running or compensating
    /// runs whose owner's lease expired — skipping those another process is claiming, and returns
    /// their ids, to be driven here.
    func claimReadyRuns(limit: Int) async throws -> [String]
    /// Returns when another process announced work (`LISTEN`), or after `timeout` (the polling
    /// fallback).
    func waitForWork(timeout: Duration) async
    /// Gives up every run this process owns and ends its lease, then wakes the others: a process
    /// that stops cleanly hands its runs over at once instead of after its lease.
    func releaseAll() async throws
    /// The processes the store knows, for monitoring.
    func processes() async throws -> [EngineProcess]

    // Run admission across processes (docs/scale-out.md): a run holds a slot while its stored
    // status is running or compensating, or while it is queued and was admitted (`takeSlot`,
    // `admitQueued`) and has not started yet. Slots are counted in the database under one lock.

    /// Takes a slot for a new run when its workflow (`workflowMax`) and the cluster (`engineMax`)
    /// have room; otherwise says how many runs wait in the queue, of the workflow and in all.
    func takeSlot(runID: String, workflow: String, workflowMax: Int?, engineMax: Int?) async throws -> SharedSlot
    /// The workflows with runs waiting in the queue.
    func queuedWorkflows() async throws -> [String]
    /// Admits the queued runs that fit now, in the order `RunAdmissionMachine` gives, among those
    /// this process may drive (its own and nobody's); claims them, and returns them to be driven.
    func admitQueued(workflowLimits: [String: ConcurrencyLimits], engineLimits: ConcurrencyLimits?) async throws -> [RunQueueEntry]
    /// Whether the queued run still waits for a slot.
    func waitsInQueue(_ runID: String) async throws -> Bool
    /// The run ended, waits, or was not created: an admission it held is dropped, and, when runs
    /// wait in the queue, every process is woken (`NOTIFY`) to admit them. Returns the workflows
    /// with runs waiting in the queue (as `queuedWorkflows`), in the same round trip.
    func freeSlot(of runID: String) async throws -> [String]
    /// Who holds a slot and who waits, across the cluster, for monitoring.
    func admissionSnapshot() async throws -> RunQueueSnapshot
}

/// What `SharedRunStore.takeSlot` answers.
package enum SharedSlot: Sendable, Hashable {
    case taken
    case full(queuedInWorkflow: Int, queuedInAll: Int)
}

/// An engine process of a shared store (`GET /v1/monitoring`).
package struct EngineProcess: Sendable, Hashable {
    package var id: String
    package var host: String
    package var pid: Int
    package var lastHeartbeat: Timestamp
    /// Whether its lease still runs.
    package var alive: Bool
    package var runsOwned: Int

    package init(id: String, host: String, pid: Int, lastHeartbeat: Timestamp, alive: Bool, runsOwned: Int) {
        self.id = id
        self.host = host
        self.pid = pid
        self.lastHeartbeat = lastHeartbeat
        self.alive = alive
        self.runsOwned = runsOwned
    }
}

/// A run recovery could not drive, and why.
package struct DeadLetter: Sendable, Hashable {
    package var runID: String
    package var at: Timestamp
    package var reason: String

    package init(runID: String, at: Timestamp, reason: String) {
        self.runID = runID
        self.at = at
        self.reason = reason
    }
}

package import MoonflowModel

/// Why a store refused an operation.
package enum RunStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownRun(String)
    /// The journal moved since the state the caller folded from (another writer): nothing was written.
    case conflict(runID: String, expectedLength: Int, actualLength: Int)
    /// The new state is not the fold of the journal plus the new events (a bug in the caller).
    case stateMismatch(runID: String)
    case storageFull(String)
    case storageBusy(String)
    /// Another live engine process drives the run (a shared store, docs/scale-out.md): nothing was written.
    case ownedElsewhere(runID: String, owner: String)
    /// This process drove the run, and another took it over since (its lease expired): nothing was
    /// written, and the run is this process's no longer.
    case claimLost(runID: String)

    package var description: String {
        switch self {
        case .unknownRun(let id): "unknown run '\(SafeText.display(id, limit: 256))'"
        case .conflict(let id, let expected, let actual):
            "run '\(id)' changed concurrently (journal has \(actual) entries, expected \(expected))"
        case .stateMismatch(let id): "run '\(id)': the new state is not the fold of its journal"
        case .storageFull(let message): "StorageFull: \(message)"
        case .storageBusy(let message): "StorageBusy: \(message)"
        case .ownedElsewhere(let id, let owner):
            "run '\(SafeText.display(id, limit: 256))' is driven by another engine process (\(SafeText.display(owner, limit: 256)))"
        case .claimLost(let id): "run '\(SafeText.display(id, limit: 256))' was taken over by another engine process"
        }
    }
}

/// Called once a store's transaction committed, with the positions its journal entries got (in
/// the order of the events written). It runs on the store's writer, in commit order: it must be
/// quick and must not call the store.
package typealias CommitHandler = @Sendable (_ offsets: [Int64]) -> Void

/// A timer that is due, with its run.
package struct DueTimer: Sendable, Hashable {
    package var runID: String
    package var timer: RunTimer
    package init(runID: String, timer: RunTimer) {
        self.runID = runID
        self.timer = timer
    }
}

/// Where runs live (docs/durability.md). Every transition is one call to `append`, which a durable store
/// implements as one transaction: the events and the state they fold to are written together, so
/// the stored state always equals the fold of the journal. Timers and tasks are part of the state
/// (`RunState.timers`, `RunState.tasks`); a store may index them in the same transaction.
package protocol RunStore: Sendable {
    /// Creates a run with its pinned definition and first events (`run.queued`) in one transaction;
    /// a definition whose hash is stored already is not stored again. Returns `false`, writing
    /// nothing, when a run with this id exists: starts are idempotent.
    ///
    /// Every write of journal entries (`create`, `append`, `repin`) gives each entry the next
    /// position of the store's history (`EventPosition.offset`: 1, 2, … across all runs, in commit
    /// order) and, once the transaction committed, calls `committed` with those offsets — before
    /// any later write's `committed`, so what it publishes is in position order.
    func create(
        _ state: RunState, definition: PinnedDefinition, events: [RunEvent], committed: CommitHandler?
    ) async throws -> Bool

    /// Appends the events of one transition and stores `newState`, their fold, atomically. Refuses
    /// with `RunStoreError.conflict` when the journal does not have
    /// `newState.journalLength - events.count` entries (someone else wrote since).
    func append(_ runID: String, events: [RunEvent], newState: RunState, committed: CommitHandler?) async throws

    /// `append`, and the run is pinned to `definition` from now on (stored unless its hash is), in
    /// the same transaction: `moonflow runs resume-compensation --latest`.
    func repin(
        _ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState, committed: CommitHandler?
    ) async throws

    /// Journal entries after `position` in position order, with their positions, at most `limit`;
    /// only `runID`'s when given. Entries stay as long as their run is stored.
    func events(after position: Int64, runID: String?, limit: Int) async throws -> [RunEvent]
    /// The position of the newest journal entry (0 when there is none).
    func lastPosition() async throws -> Int64

    func state(of runID: String) async throws -> RunState?
    func journal(of runID: String) async throws -> [RunEvent]
    /// The definition the run was pinned to when it started.
    func definition(of runID: String) async throws -> PinnedDefinition?
    /// Runs in creation order, optionally only those in the given states.
    func runs(status: Set<RunStatus>?) async throws -> [RunState]
    func task(id: String) async throws -> TaskRecord?
    /// Tasks of every run, in creation order.
    func tasks(status: TaskStatus?) async throws -> [TaskRecord]
    /// Timers of unfinished runs due at `now`, earliest first.
    func dueTimers(at now: Timestamp) async throws -> [DueTimer]
    /// Runs whose outbox holds a notification neither delivered nor dead-lettered
    /// (`RunState.outbox`), in creation order, found without folding every run.
    func runsWithPendingNotifications() async throws -> [RunState]

    /// Stores an event start a workflow refused (`EventDeadLetter`). Returns `false`, writing
    /// nothing, when one with its id is stored already. Past the store's retention limit
    /// (`EventDeadLetter.retentionLimit` by default) the oldest are dropped in the same write.
    func recordEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool
    /// Dead letters, newest first; only those of `workflow` when given.
    func eventDeadLetters(workflow: String?) async throws -> [EventDeadLetter]
    func eventDeadLetter(id: String) async throws -> EventDeadLetter?
    /// Writes a stored dead letter's new status (`redriven` with its run, `discarded`); `false`
    /// when none is stored under its id.
    func updateEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool
}

extension RunStore {
    package func create(_ state: RunState, definition: PinnedDefinition, events: [RunEvent]) async throws -> Bool {
        try await create(state, definition: definition, events: events, committed: nil)
    }

    package func append(_ runID: String, events: [RunEvent], newState: RunState) async throws {
        try await append(runID, events: events, newState: newState, committed: nil)
    }

    package func repin(_ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState) async throws {
        try await repin(runID, to: definition, events: events, newState: newState, committed: nil)
    }
}

import MoonflowModel
import OrderedCollections
import Synchronization

/// The reference `RunStore`: everything in memory (`--store memory`, tests). It keeps what a
/// durable store must guarantee: appends are ordered against the journal length, and the stored
/// state is the fold of the journal — it folds each append's events into its own state, so that
/// holds by construction. Debug builds (every test) also check that the caller's `newState` is
/// that fold; release builds skip the comparison of whole states, which cost more than the rest
/// of an append.
public final class InMemoryRunStore: RunStore {
    private struct StoredRun {
        var state: RunState
        var journal: [RunEvent]
        var definition: PinnedDefinition
    }

    private let runs: Mutex<OrderedDictionary<String, StoredRun>> = Mutex([:])
    /// Oldest first.
    private let deadLetters: Mutex<OrderedDictionary<String, EventDeadLetter>> = Mutex([:])
    private let deadLetterRetention: Int

    /// `deadLetterRetention`: the most dead letters kept (at least 1).
    public init(deadLetterRetention: Int = EventDeadLetter.retentionLimit) {
        self.deadLetterRetention = max(1, deadLetterRetention)
    }

    public func create(_ state: RunState, definition: PinnedDefinition, events: [RunEvent]) async throws -> Bool {
        guard RunState.folding(events) == state else { throw RunStoreError.stateMismatch(runID: state.id) }
        return runs.withLock { runs in
            guard runs[state.id] == nil else { return false }
            runs[state.id] = StoredRun(state: state, journal: events, definition: definition)
            return true
        }
    }

    public func append(_ runID: String, events: [RunEvent], newState: RunState) async throws {
        try runs.withLock { runs in
            guard let index = runs.index(forKey: runID) else { throw RunStoreError.unknownRun(runID) }
            let expected = newState.journalLength - events.count
            let length = runs.values[index].journal.count
            guard length == expected else {
                throw RunStoreError.conflict(runID: runID, expectedLength: expected, actualLength: length)
            }
            #if DEBUG
                var folded = runs.values[index].state
                for event in events { folded.apply(event) }
                guard folded == newState else { throw RunStoreError.stateMismatch(runID: runID) }
            #endif
            // In place: a copy of the stored run would copy its whole journal and its records on
            // every append. The store's state shares no storage with the caller's, so folding into
            // it copies nothing either.
            runs.values[index].journal += events
            for event in events { runs.values[index].state.apply(event) }
        }
    }

    public func state(of runID: String) async throws -> RunState? { runs.withLock { $0[runID]?.state } }

    public func journal(of runID: String) async throws -> [RunEvent] { runs.withLock { $0[runID]?.journal ?? [] } }

    public func repin(_ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState) async throws {
        try await append(runID, events: events, newState: newState)
        runs.withLock { $0[runID]?.definition = definition }
    }

    public func definition(of runID: String) async throws -> PinnedDefinition? { runs.withLock { $0[runID]?.definition } }

    public func runs(status: Set<RunStatus>?) async throws -> [RunState] {
        runs.withLock { runs in runs.values.map(\.state).filter { status?.contains($0.status) ?? true } }
    }

    public func task(id: String) async throws -> TaskRecord? {
        runs.withLock { runs in runs.values.lazy.compactMap { $0.state.tasks[id] }.first }
    }

    public func tasks(status: TaskStatus?) async throws -> [TaskRecord] {
        runs.withLock { runs in
            runs.values.flatMap { $0.state.tasks.values }.filter { status == nil || $0.status == status }
        }
    }

    public func dueTimers(at now: Timestamp) async throws -> [DueTimer] {
        runs.withLock { runs in
            runs.values.flatMap { run in
                run.state.timers.filter { $0.at <= now }.map { DueTimer(runID: run.state.id, timer: $0) }
            }
            .sorted { $0.timer.at < $1.timer.at }
        }
    }

    public func recordEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        deadLetters.withLock { letters in
            guard letters[letter.id] == nil else { return false }
            letters[letter.id] = letter
            if letters.count > deadLetterRetention { letters.removeFirst(letters.count - deadLetterRetention) }
            return true
        }
    }

    public func eventDeadLetters(workflow: String?) async throws -> [EventDeadLetter] {
        deadLetters.withLock { letters in letters.values.reversed().filter { workflow == nil || $0.workflow == workflow } }
    }

    public func eventDeadLetter(id: String) async throws -> EventDeadLetter? { deadLetters.withLock { $0[id] } }
}

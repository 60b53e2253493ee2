import MoonflowModel
import OrderedCollections
import Synchronization

/// The reference `RunStore`: everything in memory (`--store memory`, tests). It keeps what a
/// durable store must guarantee: appends are ordered against the journal length, and the stored
/// state is the fold of the journal — it folds each append's events into its own state, so that
/// holds by construction. Debug builds (every test) also check that the caller's state (`create`'s
/// `state`, `append`'s `newState`) is that fold; release builds skip the comparison of whole
/// states, which cost more than the rest of a write.
///
/// The runs that hold durable timers are kept apart (`timed`), so that looking for due timers —
/// which the timer service does several times a second — reads those runs only, not every run
/// ever stored.
public final class InMemoryRunStore: RunStore {
    private struct StoredRun {
        var state: RunState
        var journal: [RunEvent]
        var definition: PinnedDefinition
    }

    private struct Runs {
        var all: OrderedDictionary<String, StoredRun> = [:]
        /// The ids of the runs whose state holds a timer.
        var timed: Set<String> = []

        mutating func noteTimers(of state: RunState) {
            if state.timers.isEmpty { timed.remove(state.id) } else { timed.insert(state.id) }
        }
    }

    private let runs = Mutex(Runs())
    /// Oldest first.
    private let deadLetters: Mutex<OrderedDictionary<String, EventDeadLetter>> = Mutex([:])
    private let deadLetterRetention: Int

    /// `deadLetterRetention`: the most dead letters kept (at least 1).
    public init(deadLetterRetention: Int = EventDeadLetter.retentionLimit) {
        self.deadLetterRetention = max(1, deadLetterRetention)
    }

    public func create(_ state: RunState, definition: PinnedDefinition, events: [RunEvent]) async throws -> Bool {
        #if DEBUG
            guard RunState.folding(events) == state else { throw RunStoreError.stateMismatch(runID: state.id) }
        #endif
        return runs.withLock { runs in
            guard runs.all[state.id] == nil else { return false }
            runs.all[state.id] = StoredRun(state: state, journal: events, definition: definition)
            runs.noteTimers(of: state)
            return true
        }
    }

    public func append(_ runID: String, events: [RunEvent], newState: RunState) async throws {
        try runs.withLock { runs in
            guard let index = runs.all.index(forKey: runID) else { throw RunStoreError.unknownRun(runID) }
            let expected = newState.journalLength - events.count
            let length = runs.all.values[index].journal.count
            guard length == expected else {
                throw RunStoreError.conflict(runID: runID, expectedLength: expected, actualLength: length)
            }
            #if DEBUG
                var folded = runs.all.values[index].state
                for event in events { folded.apply(event) }
                guard folded == newState else { throw RunStoreError.stateMismatch(runID: runID) }
            #endif
            // In place: a copy of the stored run would copy its whole journal and its records on
            // every append. The store's state shares no storage with the caller's, so folding into
            // it copies nothing either.
            runs.all.values[index].journal += events
            for event in events { runs.all.values[index].state.apply(event) }
            runs.noteTimers(of: runs.all.values[index].state)
        }
    }

    public func state(of runID: String) async throws -> RunState? { runs.withLock { $0.all[runID]?.state } }

    public func journal(of runID: String) async throws -> [RunEvent] { runs.withLock { $0.all[runID]?.journal ?? [] } }

    public func repin(_ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState) async throws {
        try await append(runID, events: events, newState: newState)
        runs.withLock { $0.all[runID]?.definition = definition }
    }

    public func definition(of runID: String) async throws -> PinnedDefinition? { runs.withLock { $0.all[runID]?.definition } }

    public func runs(status: Set<RunStatus>?) async throws -> [RunState] {
        runs.withLock { runs in runs.all.values.map(\.state).filter { status?.contains($0.status) ?? true } }
    }

    public func task(id: String) async throws -> TaskRecord? {
        runs.withLock { runs in runs.all.values.lazy.compactMap { $0.state.tasks[id] }.first }
    }

    public func tasks(status: TaskStatus?) async throws -> [TaskRecord] {
        runs.withLock { runs in
            runs.all.values.flatMap { $0.state.tasks.values }.filter { status == nil || $0.status == status }
        }
    }

    public func dueTimers(at now: Timestamp) async throws -> [DueTimer] {
        runs.withLock { runs in
            // Ties go to the run stored first, as when every run was read in order.
            let due = runs.timed.compactMap { runs.all.index(forKey: $0) }.sorted().flatMap { index in
                let state = runs.all.values[index].state
                return state.timers.filter { $0.at <= now }.map { DueTimer(runID: state.id, timer: $0) }
            }
            return due.sorted { $0.timer.at < $1.timer.at }
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

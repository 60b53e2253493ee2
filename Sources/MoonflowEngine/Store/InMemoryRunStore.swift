package import MoonflowModel
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
package final class InMemoryRunStore: RunStore {
    private struct StoredRun {
        var state: RunState
        var journal: [RunEvent]
        var definition: PinnedDefinition
    }

    /// Runs and the store's history (each journal entry's run and index, by position - 1).
    private struct Contents {
        var runs: OrderedDictionary<String, StoredRun> = [:]
        var history: [(runID: String, index: Int)] = []
        /// The ids of the runs whose state holds a timer.
        var timed: Set<String> = []

        mutating func noteTimers(of state: RunState) {
            if state.hasTimers { timed.insert(state.id) } else { timed.remove(state.id) }
        }

        /// Positions for `count` new entries of `runID` starting at journal index `from`.
        mutating func record(_ runID: String, count: Int, from: Int) -> [Int64] {
            let first = Int64(history.count) + 1
            for index in from..<(from + count) { history.append((runID, index)) }
            return (0..<Int64(count)).map { first + $0 }
        }
    }

    private let contents = Mutex(Contents())
    /// Oldest first.
    private let deadLetters: Mutex<OrderedDictionary<String, EventDeadLetter>> = Mutex([:])
    private let deadLetterRetention: Int

    /// `deadLetterRetention`: the most dead letters kept (at least 1).
    package init(deadLetterRetention: Int = EventDeadLetter.retentionLimit) {
        self.deadLetterRetention = max(1, deadLetterRetention)
    }

    package func create(
        _ state: RunState, definition: PinnedDefinition, events: [RunEvent], committed: CommitHandler?
    ) async throws -> Bool {
        #if DEBUG
            guard RunState.folding(events) == state else { throw RunStoreError.stateMismatch(runID: state.id) }
        #endif
        // `committed` runs under the lock: the next write's handler cannot run before it.
        return contents.withLock { contents in
            guard contents.runs[state.id] == nil else { return false }
            contents.runs[state.id] = StoredRun(state: state, journal: events, definition: definition)
            contents.noteTimers(of: state)
            let offsets = contents.record(state.id, count: events.count, from: 0)
            committed?(offsets)
            return true
        }
    }

    package func append(_ runID: String, events: [RunEvent], newState: RunState, committed: CommitHandler?) async throws {
        try append(runID, events: events, newState: newState, definition: nil, committed: committed)
    }

    private func append(
        _ runID: String, events: [RunEvent], newState: RunState, definition: PinnedDefinition?, committed: CommitHandler?
    ) throws {
        try contents.withLock { contents in
            guard let index = contents.runs.index(forKey: runID) else { throw RunStoreError.unknownRun(runID) }
            let expected = newState.journalLength - events.count
            let length = contents.runs.values[index].journal.count
            guard length == expected else {
                throw RunStoreError.conflict(runID: runID, expectedLength: expected, actualLength: length)
            }
            #if DEBUG
                var folded = contents.runs.values[index].state
                for event in events { folded.apply(event) }
                guard folded == newState else { throw RunStoreError.stateMismatch(runID: runID) }
            #endif
            // In place: a copy of the stored run would copy its whole journal and its records on
            // every append. The store's state shares no storage with the caller's, so folding into
            // it copies nothing either.
            contents.runs.values[index].journal += events
            for event in events { contents.runs.values[index].state.apply(event) }
            contents.noteTimers(of: contents.runs.values[index].state)
            if let definition { contents.runs.values[index].definition = definition }
            let offsets = contents.record(runID, count: events.count, from: length)
            committed?(offsets)
        }
    }

    package func events(after position: Int64, runID: String?, limit: Int) async throws -> [RunEvent] {
        contents.withLock { contents in
            var out: [RunEvent] = []
            var offset = Int(max(0, position))
            while offset < contents.history.count, out.count < limit {
                let entry = contents.history[offset]
                offset += 1
                if let runID, entry.runID != runID { continue }
                guard let run = contents.runs[entry.runID], entry.index < run.journal.count else { continue }
                out.append(run.journal[entry.index].at(EventPosition(offset: Int64(offset))))
            }
            return out
        }
    }

    package func lastPosition() async throws -> Int64 { contents.withLock { Int64($0.history.count) } }

    package func state(of runID: String) async throws -> RunState? { contents.withLock { $0.runs[runID]?.state } }

    package func journal(of runID: String) async throws -> [RunEvent] { contents.withLock { $0.runs[runID]?.journal ?? [] } }

    package func repin(
        _ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState, committed: CommitHandler?
    ) async throws {
        try append(runID, events: events, newState: newState, definition: definition, committed: committed)
    }

    package func definition(of runID: String) async throws -> PinnedDefinition? { contents.withLock { $0.runs[runID]?.definition } }

    package func runs(status: Set<RunStatus>?) async throws -> [RunState] {
        contents.withLock { contents in contents.runs.values.map(\.state).filter { status?.contains($0.status) ?? true } }
    }

    package func runsWithPendingNotifications() async throws -> [RunState] {
        contents.withLock { contents in contents.runs.values.map(\.state).filter { !$0.outbox.isEmpty } }
    }

    package func task(id: String) async throws -> TaskRecord? {
        contents.withLock { contents in contents.runs.values.lazy.compactMap { $0.state.tasks[id] }.first }
    }

    package func tasks(status: TaskStatus?) async throws -> [TaskRecord] {
        contents.withLock { contents in
            contents.runs.values.flatMap { $0.state.tasks.values }.filter { status == nil || $0.status == status }
        }
    }

    package func dueTimers(at now: Timestamp) async throws -> [DueTimer] {
        contents.withLock { contents in
            // Ties go to the run stored first, as when every run was read in order.
            let due = contents.timed.compactMap { contents.runs.index(forKey: $0) }.sorted().flatMap { index in
                let state = contents.runs.values[index].state
                return state.timers.filter { $0.at <= now }.map { DueTimer(runID: state.id, timer: $0) }
            }
            return due.sorted { $0.timer.at < $1.timer.at }
        }
    }

    package func recordEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        deadLetters.withLock { letters in
            guard letters[letter.id] == nil else { return false }
            letters[letter.id] = letter
            if letters.count > deadLetterRetention { letters.removeFirst(letters.count - deadLetterRetention) }
            return true
        }
    }

    package func eventDeadLetters(workflow: String?) async throws -> [EventDeadLetter] {
        deadLetters.withLock { letters in letters.values.reversed().filter { workflow == nil || $0.workflow == workflow } }
    }

    package func eventDeadLetter(id: String) async throws -> EventDeadLetter? { deadLetters.withLock { $0[id] } }

    package func updateEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        deadLetters.withLock { letters in
            guard letters[letter.id] != nil else { return false }
            letters[letter.id] = letter
            return true
        }
    }
}

import Foundation
package import Logging
package import MoonflowEngine
package import MoonflowModel
import NIOSSL
import OrderedCollections
import PostgresNIO
import Synchronization

/// The `RunStore` on PostgreSQL (docs/scale-out.md), with the SQLite store's semantics: one
/// transition is one transaction (its journal rows with their positions, the run's row, its
/// activities, timers, tasks and queue entry), written through a group committer that lets
/// concurrent transitions share one statement and one commit; the stored state is the fold of the
/// journal (`verify()`); each run keeps the definition it was pinned to. Migrations run when the
/// store opens; a database migrated by a newer binary is refused. Every session of the store has
/// `idle_in_transaction_session_timeout` set.
package final class PostgresRunStore: SharedRunStore {
    package let options: PostgresStoreOptions
    let client: PostgresClient
    let logger: Logger
    /// This process in `processes` (host, pid and a random part: a restarted process is another).
    package let processID: String
    /// The runs this process drives, with its claim on each (docs/scale-out.md).
    let claims = Mutex<[String: Claim]>([:])
    /// One element when another process announced work (`NOTIFY moonflow_work`).
    let announcements = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let committer: PostgresCommitter
    /// The pool's run loop, the heartbeat and the listener: ended with the store.
    let background = Mutex<[Task<Void, Never>]>([])

    private init(options: PostgresStoreOptions, client: PostgresClient, logger: Logger) {
        self.options = options
        self.client = client
        self.logger = logger
        processID = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
        committer = PostgresCommitter(client: client, processID: processID, logger: logger)
        background.withLock { $0.append(Task { await client.run() }) }
    }

    deinit { background.withLock { tasks in tasks.forEach { $0.cancel() } } }

    /// Connects, migrates the database to this binary's schema (refusing one that is newer) and
    /// opens the store. Nothing is written when it throws.
    package static func open(_ options: PostgresStoreOptions, logger: Logger) async throws -> PostgresRunStore {
        let url = options.location.displayURL
        let location = options.location
        let tls: PostgresConnection.Configuration.TLS
        do {
            tls = try Self.connectionTLS(location.tls)
        } catch {
            throw PostgresStoreError.cannotConnect(url: url, detail: "TLS: \(error)")
        }
        var connection = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        connection.options.additionalStartupParameters = sessionSettings(options)
        connection.options.connectTimeout = .seconds(10)
        let migrator: PostgresConnection
        do {
            migrator = try await PostgresConnection.connect(configuration: connection, id: 0, logger: logger)
        } catch {
            throw PostgresStoreError.cannotConnect(url: url, detail: PostgresErrors.text(error))
        }
        do {
            try await PostgresSchema.migrate(migrator, url: url, logger: logger)
            try await migrator.close()
        } catch {
            try? await migrator.close()
            if error is PostgresStoreError { throw error }
            throw PostgresStoreError.cannotConnect(url: url, detail: PostgresErrors.text(error))
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: Self.clientTLS(location.tls))
        // The pool's statements never wait on a lock for long: one a forgotten transaction of
        // another session holds fails them (`StorageBusy`, written again later) instead of stalling
        // the process. The migrator waits for another process's migration as long as it takes.
        configuration.options.additionalStartupParameters = sessionSettings(options) + [("lock_timeout", "5000")]
        configuration.options.maximumConnections = max(2, location.poolSize)
        configuration.options.minimumConnections = 1
        let store = PostgresRunStore(options: options, client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger)
        do {
            try await store.heartbeat()
            try await store.expireDeadNeighbours()
        } catch {
            throw PostgresStoreError.cannotConnect(url: url, detail: PostgresErrors.text(error))
        }
        store.startBackgroundWork()
        return store
    }

    /// Settings of every session the store opens.
    private static func sessionSettings(_ options: PostgresStoreOptions) -> [(String, String)] {
        let milliseconds = options.idleInTransactionTimeout.components.seconds * 1000
            + options.idleInTransactionTimeout.components.attoseconds / 1_000_000_000_000_000
        return [("application_name", "moonflow"), ("idle_in_transaction_session_timeout", "\(milliseconds)")]
    }

    /// The migrating connection's TLS and the pool's: the same mode, certificates verified.
    private static func connectionTLS(_ mode: PostgresLocation.TLS) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    private static func clientTLS(_ mode: PostgresLocation.TLS) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    package var commitStatistics: (transactions: Int, writes: Int) { committer.statistics }

    // MARK: - Writes

    package func create(
        _ state: RunState, definition: PinnedDefinition, events: [RunEvent], committed: CommitHandler?
    ) async throws -> Bool {
        #if DEBUG
            guard RunState.folding(events) == state else { throw RunStoreError.stateMismatch(runID: state.id) }
        #endif
        var write = Self.transition(of: state, after: events, isNew: true)
        write["op"] = "create"
        write["workflow"] = .string(state.workflow)
        write["parent"] = state.parent.map { .string($0.runID) } ?? .null
        write["created_at"] = .int(state.queuedAt.nanosecondsSinceEpoch)
        write["definition"] = Self.definitionValue(definition, at: events.first?.at ?? state.queuedAt)
        switch try await committer.write(.object(write), committed: committed) {
        case .written(_, _, let epoch):
            noteClaim(state.id, epoch: epoch, released: Self.releases(state), written: state)
            return true
        case .exists: return false
        case .conflict, .owned, .lost, .busy, .unknownRun: throw RunStoreError.storageBusy("run '\(state.id)' was not created")
        }
    }

    package func append(_ runID: String, events: [RunEvent], newState: RunState, committed: CommitHandler?) async throws {
        var write = Self.transition(of: newState, after: events, isNew: false)
        write["op"] = "append"
        write["expect"] = .int(Int64(newState.journalLength - events.count))
        try await commit(write, runID, events, newState, committed)
    }

    package func repin(
        _ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState, committed: CommitHandler?
    ) async throws {
        var write = Self.transition(of: newState, after: events, isNew: false)
        write["op"] = "repin"
        write["expect"] = .int(Int64(newState.journalLength - events.count))
        write["definition"] = Self.definitionValue(definition, at: events.first?.at ?? newState.queuedAt)
        try await commit(write, runID, events, newState, committed)
    }

    /// Writes a transition of a stored run under this process's claim on it (its epoch when it
    /// holds one), and keeps the claim the database answered.
    private func commit(
        _ write: OrderedDictionary<String, Value>, _ runID: String, _ events: [RunEvent], _ newState: RunState,
        _ committed: CommitHandler?
    ) async throws {
        var write = write
        if let epoch = claims.withLock({ $0[runID]?.epoch }) { write["epoch"] = .int(epoch) }
        let outcome: PostgresCommitter.Outcome
        do {
            outcome = try await committer.write(.object(write), committed: committed)
        } catch {
            // Whether it committed is unknown: the run's state is read from the database again.
            forgetWrittenState(of: runID)
            throw error
        }
        if case .written(_, _, let epoch) = outcome {
            noteClaim(runID, epoch: epoch, released: Self.releases(newState), written: newState)
            return
        }
        forgetWrittenState(of: runID)
        switch outcome {
        case .written, .exists: return
        case .conflict(let length):
            throw RunStoreError.conflict(runID: runID, expectedLength: newState.journalLength - events.count, actualLength: length)
        case .owned(let owner): throw RunStoreError.ownedElsewhere(runID: runID, owner: owner)
        case .lost:
            claims.withLock { _ = $0.removeValue(forKey: runID) }
            throw RunStoreError.claimLost(runID: runID)
        case .busy: throw RunStoreError.storageBusy("run '\(runID)' is locked by another database session")
        case .unknownRun: throw RunStoreError.unknownRun(runID)
        }
    }

    /// Whether a run in `state` is nobody's after its write: it waits (on a timer or a task) or ended.
    static func releases(_ state: RunState) -> Bool { state.status == .waiting || state.status.isTerminal }

    /// Notes the claim a write or a claim answered; `written` is the run's state after this
    /// process's write (nil after a claim: the state is then the database's to tell). The state
    /// of a run left waiting in the run queue is not kept: a long queue would hold every run's
    /// state in memory, and its drive comes later, when a slot frees.
    func noteClaim(_ runID: String, epoch: Int64, released: Bool, written: RunState? = nil) {
        let kept = written.flatMap { $0.status == .queued && $0.queuePlace != nil ? nil : $0 }
        claims.withLock { claims in claims[runID] = released ? nil : Claim(epoch: epoch, written: kept) }
    }

    private func forgetWrittenState(of runID: String) {
        claims.withLock { claims in claims[runID]?.written = nil }
    }

    private static func definitionValue(_ definition: PinnedDefinition, at: Timestamp) -> Value {
        [
            "hash": .string(definition.hash), "workflow": .string(definition.workflowID), "file": .string(definition.workflowFile),
            "files": .string(Value.object(definition.files.mapValues(Value.string)).jsonString()), "at": .int(at.nanosecondsSinceEpoch),
        ]
    }

    /// What a transition writes besides its kind (`moonflow_write`): the journal rows, the run's row,
    /// the activities and tasks the events touched, the run's timers (when it had or has any) and
    /// its queue entry — as the SQLite store's summary tables.
    private static func transition(of state: RunState, after events: [RunEvent], isNew: Bool) -> OrderedDictionary<String, Value> {
        let timers = TimerKind.rows(of: state)
        let touched = isNew ? Set(state.activities.keys) : Set(events.compactMap(\.activity))
        var write: OrderedDictionary<String, Value> = [
            "run": .string(state.id), "status": .string(state.status.rawValue),
            "updated_at": .int((events.last?.at ?? state.queuedAt).nanosecondsSinceEpoch),
            "next_timer_at": timers.map(\.at).min().map { .int($0.nanosecondsSinceEpoch) } ?? .null,
            "length": .int(Int64(state.journalLength)), "release": .bool(releases(state)),
        ]
        write["events"] = .array(
            events.map { event in
                [
                    "type": .string(event.type.rawValue), "activity": event.activity.map(Value.string) ?? .null,
                    "attempt": event.attempt.map { .int(Int64($0)) } ?? .null, "at": .int(event.at.nanosecondsSinceEpoch),
                    "event": .string(event.journalValue.jsonString()),
                ]
            })
        write["activities"] = .array(
            touched.sorted().compactMap { state.activities[$0] }.map { record in
                [
                    "name": .string(record.name), "status": .string(record.status.rawValue), "attempts": .int(Int64(record.attempts)),
                    "interruptions": .int(Int64(record.interruptions)),
                    "next_attempt_at": record.nextAttemptAt.map { .int($0.nanosecondsSinceEpoch) } ?? .null,
                    "seq": record.seq.map { .int(Int64($0)) } ?? .null,
                ]
            })
        write["timers"] = .array(
            timers.map { ["kind": .string($0.kind.rawValue), "ref": .string($0.ref), "at": .int($0.at.nanosecondsSinceEpoch)] })
        write["tasks"] = .array(state.tasks.values.filter { touched.contains($0.activity) }.map(taskValue))
        if isNew, state.status == .queued, let place = state.queuePlace {
            write["enqueue"] = [
                "priority": .int(Int64(state.priority)), "sequence": .int(Int64(place.sequence)),
                "enqueued_at": .int(state.queuedAt.nanosecondsSinceEpoch), "deadline": place.deadline.map { .int($0.nanosecondsSinceEpoch) } ?? .null,
            ]
        } else if state.status != .queued, events.contains(where: { $0.type == .runStarted }) || state.status.isTerminal {
            write["dequeue"] = true
        }
        return write
    }

    private static func taskValue(_ task: TaskRecord) -> Value {
        let strings = { (values: [String]) in Value.array(values.map(Value.string)).jsonString() }
        return [
            "id": .string(task.id), "activity": .string(task.activity), "attempt": .int(Int64(task.attempt)),
            "token": .string(task.tokenDigest), "users": .string(strings(task.users)), "groups": .string(strings(task.groups)),
            "form": task.form.map { .string($0.jsonString()) } ?? .null, "created_at": .int(task.createdAt.nanosecondsSinceEpoch),
            "due": task.due.map { .int($0.nanosecondsSinceEpoch) } ?? .null,
            "reminders": .string(Value.array(task.reminders.map { .int($0.nanosecondsSinceEpoch) }).jsonString()),
            "status": .string(task.status.rawValue), "completed_by": task.completedBy.map(Value.string) ?? .null,
            "data": task.data.map { .string($0.jsonString()) } ?? .null,
        ]
    }

    package func recordDeadLetter(runID: String, reason: String, at: Timestamp) async throws {
        try await execute(
            "INSERT INTO dead_letters (run_id, at, reason) VALUES (\(runID), \(at.nanosecondsSinceEpoch), \(SafeText.errorMessage(reason)))")
    }

    package func recordEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        let text = letter.toValue().jsonString()
        // One statement: the insert and, when it inserted, dropping what is past the retention limit.
        let rows = try await client.query(
            """
            WITH inserted AS (
                INSERT INTO event_dead_letters (id, workflow, created_at, letter)
                VALUES (\(letter.id), \(letter.workflow), \(letter.createdAt.nanosecondsSinceEpoch), \(text))
                ON CONFLICT (id) DO NOTHING RETURNING position
            ), dropped AS (
                DELETE FROM event_dead_letters WHERE EXISTS (SELECT 1 FROM inserted) AND position <= (
                    SELECT position FROM (SELECT position FROM event_dead_letters UNION ALL SELECT position FROM inserted) AS p
                    ORDER BY position DESC LIMIT 1 OFFSET \(max(1, options.deadLetterRetention)))
            )
            SELECT count(*)::bigint FROM inserted
            """, logger: logger)
        var inserted: Int64 = 0
        for try await count in rows.decode(Int64.self) { inserted = count }
        return inserted > 0
    }

    package func updateEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE event_dead_letters SET letter = \(letter.toValue().jsonString()) WHERE id = \(letter.id) RETURNING position",
            logger: logger)
        var updated = false
        for try await _ in rows.decode(Int64.self) { updated = true }
        return updated
    }

    /// Runs one statement that returns nothing of interest, with its errors as storage errors.
    func execute(_ query: PostgresQuery) async throws {
        do {
            try await client.query(query, logger: logger)
        } catch {
            throw PostgresErrors.storageError(error)
        }
    }
}

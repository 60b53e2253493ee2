import Foundation
import GRDB
package import MoonflowEngine
package import MoonflowModel
import OrderedCollections

/// How the store writes (docs/durability.md).
package struct SQLiteStoreOptions: Sendable, Hashable {
    /// `full` (default): a commit is on disk before it is acknowledged. `normal`: may lose the
    /// last commits on power loss (never on a process crash), never corrupts.
    package var synchronous: EngineConfig.Synchronous
    /// How long a write waits for a lock held by another connection before failing `StorageBusy`.
    package var busyTimeout: Duration
    /// Opens a store whose WAL is damaged (`StoreOpenError.corruptWAL`) as SQLite would: keeping
    /// the transactions before the damage, dropping those after it for good. Off by default; an
    /// operator turns it on (`--accept-wal-loss`) after backing the files up.
    package var acceptWALLoss: Bool
    /// The most event dead letters kept (at least 1); past it the oldest are dropped.
    package var deadLetterRetention: Int

    package init(
        synchronous: EngineConfig.Synchronous = .full, busyTimeout: Duration = .seconds(5), acceptWALLoss: Bool = false,
        deadLetterRetention: Int = EventDeadLetter.retentionLimit
    ) {
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.acceptWALLoss = acceptWALLoss
        self.deadLetterRetention = deadLetterRetention
    }
}

/// Why a store file was not opened. Nothing was written to it.
package enum StoreOpenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Another engine process owns the file (docs/durability.md: one writer).
    case inUse(path: String)
    /// The file is not a SQLite database, or fails `PRAGMA quick_check`.
    case corrupt(path: String, detail: String)
    /// The write-ahead log (`<path>-wal`) holds committed transactions SQLite would drop on
    /// opening, because a frame before them is damaged (`WALScan`).
    case corruptWAL(path: String, detail: String)
    case cannotOpen(path: String, detail: String)

    package var description: String {
        switch self {
        case .inUse(let path):
            "\(path) is in use by another Moonflow process (one engine per store); stop it or use another --store"
        case .corrupt(let path, let detail):
            "\(path) is not a valid Moonflow store (\(detail)); it was left untouched — restore a backup or move it away"
        case .corruptWAL(let path, let detail):
            """
            \(path)-wal is damaged: \(detail). The store was not opened and nothing was written to it. To recover: \
            stop every process using it, copy \(path), \(path)-wal and \(path)-shm somewhere safe, then restore a \
            backup, or open the store once with --accept-wal-loss to keep what SQLite can read (the transactions \
            after the damage are dropped for good)
            """
        case .cannotOpen(let path, let detail): "cannot open \(path): \(detail)"
        }
    }
}

/// The durable `RunStore` (docs/durability.md): SQLite through GRDB, WAL, `synchronous=FULL` by default,
/// `BEGIN IMMEDIATE` writes through one writer that batches concurrent transitions (group commit).
/// One transition is one transaction: its journal rows, the run's summary row, its activities,
/// timers, tasks and queue entry. A run's state is the fold of its journal rows (`state(of:)`);
/// the summary tables are what queries and recovery read.
///
/// One process owns a store: an exclusive `flock` on `<path>.lock` is held while the store is
/// open (the kernel drops it when the process dies, so a crash never leaves a stale lock).
package final class SQLiteRunStore: DurableRunStore {
    package let path: String
    let pool: DatabasePool
    let committer: GroupCommitter
    private let lock: OwnerLock
    let deadLetterRetention: Int

    /// Opens (or creates) the store at `path`. A file that is not a SQLite database or fails
    /// `PRAGMA quick_check`, or whose WAL holds committed transactions SQLite would drop, is
    /// refused untouched; a store another process holds is refused.
    package init(path: String, options: SQLiteStoreOptions = SQLiteStoreOptions()) throws {
        self.path = path
        deadLetterRetention = max(1, options.deadLetterRetention)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreOpenError.cannotOpen(path: path, detail: "\(error)")
        }
        lock = try OwnerLock(path: path + ".lock", storePath: path)
        // The WAL first: the quick_check connection would already replay only its valid prefix.
        if !options.acceptWALLoss { try StoreFileCheck.checkWAL(path) }
        try StoreFileCheck.check(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(options.busyTimeout.components.seconds) + Double(options.busyTimeout.components.attoseconds) / 1e18)
        configuration.label = "moonflow.store"
        let synchronous = options.synchronous == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // A transaction's frames reach the WAL once, at commit, never spilled early and
            // rewritten in place: so a crash never leaves a frame that fails its checksum before
            // an intact commit frame, and `WALScan` can call that damage.
            try db.execute(sql: "PRAGMA cache_spill = OFF")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB's pool sets `synchronous = NORMAL` on its writer once WAL is on, after
            // `prepareDatabase` ran: set the configured level again on the writer, the one
            // connection whose commits it governs.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            try StoreSchema.migrator.migrate(pool)
        } catch {
            throw StoreOpenError.cannotOpen(path: path, detail: "\(error)")
        }
        committer = GroupCommitter(pool: pool, mapError: Self.storageError)
    }

    /// Closes the database and gives up the store's ownership now, so that the same process (a
    /// test, a command that hands the store on) can open it again at once; the store must not be
    /// used after. Without it both happen when the last reference goes, which tasks finishing
    /// late can delay.
    package func close() throws {
        defer { lock.release() }
        try pool.close()
    }

    /// SQLite's full and busy results become the engine's `StorageFull` and `StorageBusy`.
    static func storageError(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_FULL: return RunStoreError.storageFull(error.message ?? "database or disk is full")
        case .SQLITE_BUSY, .SQLITE_LOCKED: return RunStoreError.storageBusy(error.message ?? "database is locked")
        default: return error
        }
    }

    package var commitStatistics: (transactions: Int, writes: Int) { committer.statistics }

    // MARK: - Writes

    /// Debug builds (every test) check that `state` is the fold of `events`; release builds skip
    /// the comparison of whole states, as `append` does not make it either.
    package func create(
        _ state: RunState, definition: PinnedDefinition, events: [RunEvent], committed: CommitHandler?
    ) async throws -> Bool {
        #if DEBUG
            guard RunState.folding(events) == state else { throw RunStoreError.stateMismatch(runID: state.id) }
        #endif
        let texts = Self.journalTexts(events)
        return try await committer.write(committed: committed) { db in
            // Statements prepared once per connection: the writer is the one queue every commit waits on.
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM runs WHERE id = ?")
            if try Bool.fetchOne(exists, arguments: [state.id]) == true { return .nothing }
            try Self.insertDefinition(definition, at: events.first?.at ?? state.queuedAt, db)
            try db.cachedStatement(
                sql: """
                    INSERT INTO runs (id, position, workflow, definition_hash, status, parent_run, created_at, updated_at, journal_length)
                    VALUES (?, (SELECT IFNULL(MAX(position), 0) + 1 FROM runs), ?, ?, ?, ?, ?, ?, 0)
                    """
            ).execute(
                arguments: [
                    state.id, state.workflow, definition.hash, state.status.rawValue, state.parent?.runID,
                    state.queuedAt.nanosecondsSinceEpoch, state.queuedAt.nanosecondsSinceEpoch,
                ])
            let positions = try Self.insertJournal(state.id, events, texts, from: 0, db)
            try Self.writeSummary(of: state, after: events, isNew: true, hadTimers: false, db)
            return GroupCommitter.Written(wrote: true, positions: positions)
        }
    }

    package func append(_ runID: String, events: [RunEvent], newState: RunState, committed: CommitHandler?) async throws {
        let texts = Self.journalTexts(events)
        _ = try await committer.write(committed: committed) { db in
            let (length, hadTimers) = try Self.checkJournalLength(runID, events, newState, db)
            let positions = try Self.insertJournal(runID, events, texts, from: length, db)
            try Self.writeSummary(of: newState, after: events, isNew: false, hadTimers: hadTimers, db)
            return GroupCommitter.Written(wrote: true, positions: positions)
        }
    }

    /// The stored journal length and whether the run had timers, once the length is the one
    /// `newState` was folded from (else `conflict`: another writer went first).
    private static func checkJournalLength(
        _ runID: String, _ events: [RunEvent], _ newState: RunState, _ db: Database
    ) throws -> (length: Int, hadTimers: Bool) {
        let current = try db.cachedStatement(sql: "SELECT journal_length, next_timer_at IS NOT NULL FROM runs WHERE id = ?")
        guard let row = try Row.fetchOne(current, arguments: [runID]) else { throw RunStoreError.unknownRun(runID) }
        let length: Int = row[0]
        let expected = newState.journalLength - events.count
        guard length == expected else { throw RunStoreError.conflict(runID: runID, expectedLength: expected, actualLength: length) }
        return (length, row[1])
    }

    package func repin(
        _ runID: String, to definition: PinnedDefinition, events: [RunEvent], newState: RunState, committed: CommitHandler?
    ) async throws {
        let texts = Self.journalTexts(events)
        _ = try await committer.write(committed: committed) { db in
            let (length, hadTimers) = try Self.checkJournalLength(runID, events, newState, db)
            try Self.insertDefinition(definition, at: events.first?.at ?? newState.queuedAt, db)
            try db.execute(sql: "UPDATE runs SET definition_hash = ? WHERE id = ?", arguments: [definition.hash, runID])
            let positions = try Self.insertJournal(runID, events, texts, from: length, db)
            try Self.writeSummary(of: newState, after: events, isNew: false, hadTimers: hadTimers, db)
            return GroupCommitter.Written(wrote: true, positions: positions)
        }
    }

    package func recordDeadLetter(runID: String, reason: String, at: Timestamp) async throws {
        _ = try await committer.write { db in
            try db.execute(
                sql: "INSERT INTO dead_letters (run_id, at, reason) VALUES (?, ?, ?)",
                arguments: [runID, at.nanosecondsSinceEpoch, SafeText.errorMessage(reason)])
            return .done
        }
    }

    package func deadLetters() async throws -> [DeadLetter] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT run_id, at, reason FROM dead_letters ORDER BY id").map { row in
                DeadLetter(runID: row["run_id"], at: Timestamp(nanosecondsSinceEpoch: row["at"]), reason: row["reason"])
            }
        }
    }

    private static func insertDefinition(_ definition: PinnedDefinition, at: Timestamp, _ db: Database) throws {
        let known = try db.cachedStatement(sql: "SELECT 1 FROM definitions WHERE hash = ?")
        guard try Bool.fetchOne(known, arguments: [definition.hash]) != true else { return }
        let files = Value.object(definition.files.mapValues(Value.string)).jsonString()
        try db.execute(
            sql: """
                INSERT INTO definitions (hash, workflow, version, workflow_file, files, created_at)
                VALUES (?, ?, (SELECT IFNULL(MAX(version), 0) + 1 FROM definitions WHERE workflow = ?), ?, ?, ?)
                """,
            arguments: [
                definition.hash, definition.workflowID, definition.workflowID, definition.workflowFile, files,
                at.nanosecondsSinceEpoch,
            ])
    }

    /// The JSON text of each event, encoded by the caller before its write is queued: the writer
    /// is one serial queue that every run's commit waits on, so it does only the SQL.
    private static func journalTexts(_ events: [RunEvent]) -> [String] {
        events.map { $0.journalValue.jsonString() }
    }

    /// Inserts the entries after the run's first `length` ones, each at the next position of the
    /// store's history, and returns those positions. The writer is the only one (the owner lock),
    /// so positions follow commit order; a write rolled back gives its positions to the next.
    private static func insertJournal(
        _ runID: String, _ events: [RunEvent], _ texts: [String], from length: Int, _ db: Database
    ) throws -> [Int64] {
        let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT IFNULL(MAX(position), 0) FROM journal")) ?? 0
        let statement = try db.cachedStatement(
            sql: "INSERT INTO journal (run_id, seq, type, activity, attempt, at, event, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        var positions: [Int64] = []
        positions.reserveCapacity(events.count)
        for (offset, (event, text)) in zip(events, texts).enumerated() {
            let position = last + Int64(offset) + 1
            try statement.execute(arguments: [
                runID, length + offset + 1, event.type.rawValue, event.activity, event.attempt, event.at.nanosecondsSinceEpoch, text,
                position,
            ])
            positions.append(position)
        }
        return positions
    }

    // MARK: - Reads

    package func state(of runID: String) async throws -> RunState? {
        try await pool.read { db in try Self.fold(runID, db) }
    }

    package func journal(of runID: String) async throws -> [RunEvent] {
        try await pool.read { db in try Self.journal(runID, db) }
    }

    package func definition(of runID: String) async throws -> PinnedDefinition? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT d.hash, d.workflow, d.workflow_file, d.files FROM runs r
                        JOIN definitions d ON d.hash = r.definition_hash WHERE r.id = ?
                        """, arguments: [runID])
            else { return nil }
            return try Self.definition(row)
        }
    }

    package func definitionVersions(of workflow: String) async throws -> [(version: Int, hash: String)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT version, hash FROM definitions WHERE workflow = ? ORDER BY version", arguments: [workflow])
                .map { (version: $0["version"], hash: $0["hash"]) }
        }
    }

    package func runs(status: Set<RunStatus>?) async throws -> [RunState] {
        try await pool.read { db in
            var sql = "SELECT id FROM runs"
            var arguments: StatementArguments = []
            if let status {
                sql += " WHERE status IN (\(status.map { _ in "?" }.joined(separator: ", ")))"
                arguments = StatementArguments(status.map(\.rawValue))
            }
            return try String.fetchAll(db, sql: sql + " ORDER BY position", arguments: arguments).compactMap { try Self.fold($0, db) }
        }
    }

    /// One line per run for listings, without folding journals.
    package func summaries(status: RunStatus?, workflow: String?) async throws -> [RunSummary] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let status {
                conditions.append("status = ?")
                arguments += [status.rawValue]
            }
            if let workflow {
                conditions.append("workflow = ?")
                arguments += [workflow]
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            return try Row.fetchAll(
                db,
                sql: "SELECT id, workflow, status, created_at, updated_at, next_timer_at, parent_run, journal_length FROM runs\(filter) ORDER BY position",
                arguments: arguments
            ).map(RunSummary.init(row:))
        }
    }

    package func task(id: String) async throws -> TaskRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tasks WHERE id = ?", arguments: [id]).map(Self.task)
        }
    }

    package func tasks(status: TaskStatus?) async throws -> [TaskRecord] {
        try await pool.read { db in
            let rows =
                if let status {
                    try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE status = ? ORDER BY position", arguments: [status.rawValue])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM tasks ORDER BY position")
                }
            return try rows.map(Self.task)
        }
    }

    package func dueTimers(at now: Timestamp) async throws -> [DueTimer] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT run_id, kind, ref, at FROM timers WHERE at <= ? ORDER BY at, run_id",
                arguments: [now.nanosecondsSinceEpoch]
            ).compactMap { row -> DueTimer? in
                guard let kind = TimerKind.runTimerKind(row["kind"], ref: row["ref"]) else { return nil }
                return DueTimer(runID: row["run_id"], timer: RunTimer(kind: kind, at: Timestamp(nanosecondsSinceEpoch: row["at"])))
            }
        }
    }

    /// What `RunAdmissionMachine` is rebuilt from.
    package func queuedRuns() async throws -> [RunQueueEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run_queue ORDER BY sequence").map { row in
                RunQueueEntry(
                    runID: row["run_id"], workflow: row["workflow"], priority: row["priority"], sequence: row["sequence"],
                    enqueuedAt: Timestamp(nanosecondsSinceEpoch: row["enqueued_at"]),
                    deadline: (row["deadline"] as Int64?).map(Timestamp.init(nanosecondsSinceEpoch:)))
            }
        }
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound file.
    package func integrityCheck() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// The run's journal, each row read back (`RunEvent(journalValue:)`, which also reads rows of
    /// earlier formats).
    static func journal(_ runID: String, _ db: Database) throws -> [RunEvent] {
        let texts = try String.fetchAll(db, sql: "SELECT event FROM journal WHERE run_id = ? ORDER BY seq", arguments: [runID])
        return try texts.enumerated().map { index, text in try RunEvent(storedJournalText: text, runID: runID, seq: index + 1) }
    }

    package func events(after position: Int64, runID: String?, limit: Int) async throws -> [RunEvent] {
        try await pool.read { db in
            let rows =
                if let runID {
                    try Row.fetchAll(
                        db.cachedStatement(
                            sql: "SELECT run_id, seq, event, position FROM journal WHERE run_id = ? AND position > ? ORDER BY position LIMIT ?"),
                        arguments: [runID, position, max(0, limit)])
                } else {
                    try Row.fetchAll(
                        db.cachedStatement(sql: "SELECT run_id, seq, event, position FROM journal WHERE position > ? ORDER BY position LIMIT ?"),
                        arguments: [position, max(0, limit)])
                }
            return try rows.map { row in
                try RunEvent(storedJournalText: row["event"], runID: row["run_id"], seq: row["seq"]).at(EventPosition(offset: row["position"]))
            }
        }
    }

    package func lastPosition() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT IFNULL(MAX(position), 0) FROM journal") ?? 0 }
    }

    static func fold(_ runID: String, _ db: Database) throws -> RunState? {
        RunState.folding(try journal(runID, db))
    }

    static func definition(_ row: Row) throws -> PinnedDefinition {
        let files = try Value(json: row["files"] as String).objectValue ?? [:]
        return PinnedDefinition(
            workflowID: row["workflow"], hash: row["hash"], workflowFile: row["workflow_file"],
            files: files.compactMapValues(\.stringValue))
    }
}

/// What `runs list` shows of a run, from the summary row.
package struct RunSummary: Sendable, Hashable {
    package var id: String
    package var workflow: String
    package var status: RunStatus
    package var createdAt: Timestamp
    package var updatedAt: Timestamp
    package var nextTimerAt: Timestamp?
    package var parentRun: String?
    package var events: Int

    init(row: Row) {
        id = row["id"]
        workflow = row["workflow"]
        status = RunStatus(rawValue: row["status"]) ?? .failed
        createdAt = Timestamp(nanosecondsSinceEpoch: row["created_at"])
        updatedAt = Timestamp(nanosecondsSinceEpoch: row["updated_at"])
        nextTimerAt = (row["next_timer_at"] as Int64?).map(Timestamp.init(nanosecondsSinceEpoch:))
        parentRun = row["parent_run"]
        events = row["journal_length"]
    }
}

extension SQLiteRunStore {
    /// Caps the file at `pages` pages on the writer connection (`PRAGMA max_page_count`): how
    /// tests make the disk full.
    func setMaximumPageCount(_ pages: Int) async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
    }
}

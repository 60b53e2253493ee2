package import MoonflowEngine
package import MoonflowModel
import PostgresNIO

/// Reads: a run's state is the fold of its journal rows; the summary tables answer the rest.
extension PostgresRunStore {
    /// The rows of `query`, each decoded by `decode`; errors as storage errors.
    func rows<T>(_ query: PostgresQuery, _ decode: (PostgresRow) throws -> T) async throws -> [T] {
        do {
            var out: [T] = []
            for try await row in try await client.query(query, logger: logger) { out.append(try decode(row)) }
            return out
        } catch {
            throw PostgresErrors.storageError(error)
        }
    }

    package func state(of runID: String) async throws -> RunState? {
        RunState.folding(try await journal(of: runID))
    }

    package func runsWithPendingNotifications() async throws -> [RunState] {
        let ids = try await rows(
            """
            SELECT j.run_id FROM journal j JOIN runs r ON r.id = j.run_id
            WHERE j.type IN ('notification.queued', 'notification.delivered', 'notification.dead_lettered')
            GROUP BY j.run_id
            HAVING count(*) FILTER (WHERE j.type = 'notification.queued') > count(*) FILTER (WHERE j.type <> 'notification.queued')
            ORDER BY min(r.position)
            """
        ) { try $0.decode(String.self) }
        var states: [RunState] = []
        for id in ids { if let state = try await state(of: id) { states.append(state) } }
        return states
    }

    package func journal(of runID: String) async throws -> [RunEvent] {
        let texts = try await rows("SELECT event FROM journal WHERE run_id = \(runID) ORDER BY seq") { try $0.decode(String.self) }
        return try texts.enumerated().map { index, text in try RunEvent(storedJournalText: text, runID: runID, seq: index + 1) }
    }

    package func definition(of runID: String) async throws -> PinnedDefinition? {
        try await rows(
            """
            SELECT d.hash, d.workflow, d.workflow_file, d.files FROM runs r JOIN definitions d ON d.hash = r.definition_hash
            WHERE r.id = \(runID)
            """
        ) { row in
            let (hash, workflow, file, files) = try row.decode((String, String, String, String).self)
            return PinnedDefinition(
                workflowID: workflow, hash: hash, workflowFile: file,
                files: (try Value(json: files).objectValue ?? [:]).compactMapValues(\.stringValue))
        }.first
    }

    package func definitionVersions(of workflow: String) async throws -> [(version: Int, hash: String)] {
        try await rows("SELECT version::bigint, hash FROM definitions WHERE workflow = \(workflow) ORDER BY version") { row in
            let (version, hash) = try row.decode((Int64, String).self)
            return (version: Int(version), hash: hash)
        }
    }

    /// Every run in the given states, in creation order, folded from one read of their journals.
    package func runs(status: Set<RunStatus>?) async throws -> [RunState] {
        let statuses = status.map { $0.map(\.rawValue) }
        let entries = try await rows(
            """
            SELECT j.run_id, j.seq::bigint, j.event FROM runs r JOIN journal j ON j.run_id = r.id
            WHERE \(statuses == nil) OR r.status = ANY(\(statuses ?? []))
            ORDER BY r.position, j.seq
            """
        ) { try $0.decode((String, Int64, String).self) }
        var states: [RunState] = []
        var index = entries.startIndex
        while index < entries.endIndex {
            let runID = entries[index].0
            var journal: [RunEvent] = []
            while index < entries.endIndex, entries[index].0 == runID {
                journal.append(try RunEvent(storedJournalText: entries[index].2, runID: runID, seq: Int(entries[index].1)))
                index += 1
            }
            if let state = RunState.folding(journal) { states.append(state) }
        }
        return states
    }

    package func task(id: String) async throws -> TaskRecord? {
        try await rows("SELECT \(unescaped: Self.taskColumns) FROM tasks WHERE id = \(id)", Self.task).first
    }

    package func tasks(status: TaskStatus?) async throws -> [TaskRecord] {
        if let status {
            return try await rows("SELECT \(unescaped: Self.taskColumns) FROM tasks WHERE status = \(status.rawValue) ORDER BY position", Self.task)
        }
        return try await rows("SELECT \(unescaped: Self.taskColumns) FROM tasks ORDER BY position", Self.task)
    }

    static let taskColumns =
        "id, token, run_id, activity, attempt::bigint, users, groups, form, created_at, due, reminders, status, completed_by, data"

    static func task(_ row: PostgresRow) throws -> TaskRecord {
        let (id, token, runID, activity, attempt, users, groups, form, createdAt, due, reminders, status, completedBy, data) =
            try row.decode((String, String, String, String, Int64, String, String, String?, Int64, Int64?, String, String, String?, String?).self)
        let strings = { (text: String) in try Value(json: text).arrayValue?.compactMap(\.stringValue) ?? [] }
        let schema = try form.map { try Value(json: $0) }
        return TaskRecord(
            id: id, tokenDigest: token, runID: runID, activity: activity, attempt: Int(attempt), users: try strings(users),
            groups: try strings(groups), form: schema?.isNull == true ? nil : schema, createdAt: Timestamp(nanosecondsSinceEpoch: createdAt),
            due: due.map(Timestamp.init(nanosecondsSinceEpoch:)),
            reminders: try Value(json: reminders).arrayValue?.compactMap(\.intValue).map(Timestamp.init(nanosecondsSinceEpoch:)) ?? [],
            status: TaskStatus(rawValue: status) ?? .open, completedBy: completedBy, data: try data.map { try Value(json: $0) })
    }

    package func queuedRuns() async throws -> [RunQueueEntry] {
        try await rows("SELECT run_id, workflow, priority::bigint, sequence, enqueued_at, deadline FROM run_queue ORDER BY sequence") { row in
            let (runID, workflow, priority, sequence, enqueuedAt, deadline) = try row.decode((String, String, Int64, Int64, Int64, Int64?).self)
            return RunQueueEntry(
                runID: runID, workflow: workflow, priority: Int(priority), sequence: UInt64(sequence),
                enqueuedAt: Timestamp(nanosecondsSinceEpoch: enqueuedAt), deadline: deadline.map(Timestamp.init(nanosecondsSinceEpoch:)))
        }
    }

    package func events(after position: Int64, runID: String?, limit: Int) async throws -> [RunEvent] {
        try await rows(
            """
            SELECT run_id, seq::bigint, event, position FROM journal
            WHERE position > \(position) AND (\(runID == nil) OR run_id = \(runID ?? ""))
            ORDER BY position LIMIT \(Int64(max(0, limit)))
            """
        ) { row in
            let (runID, seq, event, position) = try row.decode((String, Int64, String, Int64).self)
            return try RunEvent(storedJournalText: event, runID: runID, seq: Int(seq)).at(EventPosition(offset: position))
        }
    }

    package func lastPosition() async throws -> Int64 {
        try await rows("SELECT coalesce(max(position), 0)::bigint FROM journal") { try $0.decode(Int64.self) }.first ?? 0
    }

    package func deadLetters() async throws -> [DeadLetter] {
        try await rows("SELECT run_id, at, reason FROM dead_letters ORDER BY id") { row in
            let (runID, at, reason) = try row.decode((String, Int64, String).self)
            return DeadLetter(runID: runID, at: Timestamp(nanosecondsSinceEpoch: at), reason: reason)
        }
    }

    package func eventDeadLetters(workflow: String?) async throws -> [EventDeadLetter] {
        try await rows(
            "SELECT id, created_at, letter FROM event_dead_letters WHERE \(workflow == nil) OR workflow = \(workflow ?? "") ORDER BY position DESC",
            Self.deadLetter)
    }

    package func eventDeadLetter(id: String) async throws -> EventDeadLetter? {
        try await rows("SELECT id, created_at, letter FROM event_dead_letters WHERE id = \(id)", Self.deadLetter).first
    }

    private static func deadLetter(_ row: PostgresRow) throws -> EventDeadLetter {
        let (id, createdAt, text) = try row.decode((String, Int64, String).self)
        guard let letter = EventDeadLetter(value: try Value(json: text), createdAt: Timestamp(nanosecondsSinceEpoch: createdAt)) else {
            throw StoreDataError.badDeadLetter(id: id)
        }
        return letter
    }
}

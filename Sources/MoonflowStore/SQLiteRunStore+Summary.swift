import GRDB
import MoonflowEngine
import MoonflowModel

/// The summary tables, written in the transaction of the journal rows they follow from.
extension SQLiteRunStore {
    /// Writes what `state` (the fold after `events`) says of the run: its row, the activities and
    /// tasks the events touched, its timers and its queue entry. `hadTimers` says whether the run
    /// had timer rows before (its `next_timer_at` was set): without them before or after, there is
    /// nothing to replace. Every statement of a transition is prepared once per connection.
    static func writeSummary(of state: RunState, after events: [RunEvent], isNew: Bool, hadTimers: Bool, _ db: Database) throws {
        let timers = TimerKind.rows(of: state)
        try db.cachedStatement(sql: "UPDATE runs SET status = ?, updated_at = ?, next_timer_at = ?, journal_length = ? WHERE id = ?")
            .execute(arguments: [
                state.status.rawValue, (events.last?.at ?? state.queuedAt).nanosecondsSinceEpoch,
                timers.map(\.at).min()?.nanosecondsSinceEpoch, state.journalLength, state.id,
            ])
        let touched = isNew ? Set(state.activities.keys) : Set(events.compactMap(\.activity))
        let activity = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO activities (run_id, name, status, attempts, interruptions, next_attempt_at, seq)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        for name in touched {
            guard let record = state.activities[name] else { continue }
            try activity.execute(arguments: [
                state.id, name, record.status.rawValue, record.attempts, record.interruptions,
                record.nextAttemptAt?.nanosecondsSinceEpoch, record.seq,
            ])
        }
        if hadTimers || !timers.isEmpty {
            try db.cachedStatement(sql: "DELETE FROM timers WHERE run_id = ?").execute(arguments: [state.id])
            let timer = try db.cachedStatement(sql: "INSERT OR IGNORE INTO timers (run_id, kind, ref, at) VALUES (?, ?, ?, ?)")
            for row in timers { try timer.execute(arguments: [state.id, row.kind.rawValue, row.ref, row.at.nanosecondsSinceEpoch]) }
        }
        for task in state.tasks.values where touched.contains(task.activity) {
            try writeTask(task, db)
        }
        if isNew, state.status == .queued, let place = state.queuePlace {
            try db.execute(
                sql: """
                    INSERT INTO run_queue (run_id, workflow, priority, sequence, enqueued_at, deadline)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    state.id, state.workflow, state.priority, place.sequence, state.queuedAt.nanosecondsSinceEpoch,
                    place.deadline?.nanosecondsSinceEpoch,
                ])
        } else if state.status != .queued, events.contains(where: { $0.type == .runStarted }) || state.status.isTerminal {
            try db.cachedStatement(sql: "DELETE FROM run_queue WHERE run_id = ?").execute(arguments: [state.id])
        }
    }

    private static func writeTask(_ task: TaskRecord, _ db: Database) throws {
        let strings = { (values: [String]) in Value.array(values.map(Value.string)).jsonString() }
        try db.execute(
            sql: """
                INSERT INTO tasks (id, run_id, activity, attempt, token, users, groups, form, created_at, due, reminders,
                                   status, completed_by, data, position)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT IFNULL(MAX(position), 0) + 1 FROM tasks))
                ON CONFLICT (id) DO UPDATE SET reminders = excluded.reminders, status = excluded.status,
                    completed_by = excluded.completed_by, data = excluded.data
                """,
            arguments: [
                task.id, task.runID, task.activity, task.attempt, task.tokenDigest, strings(task.users), strings(task.groups),
                task.form?.jsonString(), task.createdAt.nanosecondsSinceEpoch, task.due?.nanosecondsSinceEpoch,
                Value.array(task.reminders.map { .int($0.nanosecondsSinceEpoch) }).jsonString(), task.status.rawValue,
                task.completedBy, task.data?.jsonString(),
            ])
    }

    static func task(_ row: Row) throws -> TaskRecord {
        let strings = { (text: String) in try Value(json: text).arrayValue?.compactMap(\.stringValue) ?? [] }
        let json = { (text: String?) in try text.map { try Value(json: $0) } }
        // A task without a form: stores written before the journal was typed hold `null` for it.
        let form = try json(row["form"])
        return TaskRecord(
            id: row["id"], tokenDigest: row["token"], runID: row["run_id"], activity: row["activity"], attempt: row["attempt"],
            users: try strings(row["users"]), groups: try strings(row["groups"]), form: form?.isNull == true ? nil : form,
            createdAt: Timestamp(nanosecondsSinceEpoch: row["created_at"]),
            due: (row["due"] as Int64?).map(Timestamp.init(nanosecondsSinceEpoch:)),
            reminders: try Value(json: row["reminders"] as String).arrayValue?.compactMap(\.intValue).map(Timestamp.init(nanosecondsSinceEpoch:)) ?? [],
            status: TaskStatus(rawValue: row["status"]) ?? .open, completedBy: row["completed_by"], data: try json(row["data"]))
    }
}

import GRDB
package import MoonflowModel
import MoonflowEngine

/// Retention (docs/durability.md): finished runs past `store.retention` deleted in small batches.
extension SQLiteRunStore {
    package func deleteFinishedRuns(before cutoff: Timestamp, limit: Int) async throws -> Int {
        let statuses = RunStatus.expirable.map(\.rawValue)
        let marks = statuses.map { _ in "?" }.joined(separator: ", ")
        // Chosen on a reader; their rows deleted in one write. A run that ended never changes
        // again, and this store has one writer.
        let ids = try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT r.id FROM runs r
                    WHERE r.status IN (\(marks)) AND r.updated_at < ?
                      AND r.position < (SELECT max(position) FROM runs)
                      AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run AND p.status IN ('queued', 'running', 'waiting', 'paused', 'compensating'))
                      AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.run_id = r.id AND j.position = (SELECT max(position) FROM journal))
                    ORDER BY r.updated_at LIMIT ?
                    """,
                arguments: StatementArguments(statuses) + [cutoff.nanosecondsSinceEpoch, max(1, limit)])
        }
        guard !ids.isEmpty else { return 0 }
        let list = Value.array(ids.map(Value.string)).jsonString()
        _ = try await committer.write { db in
            for table in ["journal", "activities", "timers", "tasks", "run_queue", "runs"] {
                let column = table == "runs" ? "id" : "run_id"
                try db.execute(sql: "DELETE FROM \(table) WHERE \(column) IN (SELECT value FROM json_each(?))", arguments: [list])
            }
            return .done
        }
        return ids.count
    }
}

import MoonflowEngine
package import MoonflowModel
import PostgresNIO

/// Retention (docs/scale-out.md): finished runs past `store.retention` deleted in small batches,
/// each one statement that locks only the rows it deletes (`SKIP LOCKED`: processes deleting at
/// once take different runs).
extension PostgresRunStore {
    package func deleteFinishedRuns(before cutoff: Timestamp, limit: Int) async throws -> Int {
        let statuses = RunStatus.expirable.map(\.rawValue)
        // One statement: the foreign keys of the journal and the summaries are checked at its end,
        // once the rows of every table are gone.
        return try await rows(
            """
            WITH doomed AS (
                SELECT r.id FROM runs r
                WHERE r.status = ANY(\(statuses)) AND r.updated_at < \(cutoff.nanosecondsSinceEpoch)
                  AND r.position < (SELECT max(position) FROM runs)
                  AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.id = r.parent_run AND p.status IN ('queued', 'running', 'waiting', 'paused', 'compensating'))
                  AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.run_id = r.id AND j.position = (SELECT max(position) FROM journal))
                ORDER BY r.updated_at LIMIT \(Int64(max(1, limit)))
                FOR UPDATE OF r SKIP LOCKED
            ), journal_rows AS (
                DELETE FROM journal WHERE run_id IN (SELECT id FROM doomed)
            ), activity_rows AS (
                DELETE FROM activities WHERE run_id IN (SELECT id FROM doomed)
            ), timer_rows AS (
                DELETE FROM timers WHERE run_id IN (SELECT id FROM doomed)
            ), task_rows AS (
                DELETE FROM tasks WHERE run_id IN (SELECT id FROM doomed)
            ), queue_rows AS (
                DELETE FROM run_queue WHERE run_id IN (SELECT id FROM doomed)
            ), admitted_rows AS (
                DELETE FROM run_admitted WHERE run_id IN (SELECT id FROM doomed)
            ), deleted AS (
                DELETE FROM runs WHERE id IN (SELECT id FROM doomed) RETURNING id
            )
            SELECT count(*)::bigint FROM deleted
            """
        ) { Int(try $0.decode(Int64.self)) }.first ?? 0
    }
}

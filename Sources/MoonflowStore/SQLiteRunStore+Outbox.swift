import GRDB
package import MoonflowEngine

/// The runs' outboxes (docs/integrations.md, "Notifications"): found through the journal's
/// partial index of notification entries, so only runs with a pending one are folded.
extension SQLiteRunStore {
    package func runsWithPendingNotifications() async throws -> [RunState] {
        try await pool.read { db in
            let ids = try String.fetchAll(
                db,
                sql: """
                    SELECT j.run_id FROM journal j JOIN runs r ON r.id = j.run_id
                    WHERE j.type IN ('notification.queued', 'notification.delivered', 'notification.dead_lettered')
                    GROUP BY j.run_id HAVING SUM(j.type = 'notification.queued') > SUM(j.type != 'notification.queued')
                    ORDER BY MIN(r.position)
                    """)
            return try ids.compactMap { try Self.fold($0, db) }
        }
    }
}

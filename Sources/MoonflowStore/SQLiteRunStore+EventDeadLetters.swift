import GRDB
package import MoonflowEngine
import MoonflowModel

/// Event dead letters (`event_dead_letters`): event starts a workflow refused, kept for operators.
extension SQLiteRunStore {
    package func recordEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        let text = letter.toValue().jsonString()
        let retention = deadLetterRetention
        return try await committer.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO event_dead_letters (id, workflow, created_at, letter) VALUES (?, ?, ?, ?)",
                arguments: [letter.id, letter.workflow, letter.createdAt.nanosecondsSinceEpoch, text])
            guard db.changesCount > 0 else { return .nothing }
            // Keep the newest `retention`: drop everything at or before the first one past them.
            try db.execute(
                sql: """
                    DELETE FROM event_dead_letters WHERE position <=
                        (SELECT position FROM event_dead_letters ORDER BY position DESC LIMIT 1 OFFSET ?)
                    """,
                arguments: [retention])
            return .done
        }
    }

    package func eventDeadLetters(workflow: String?) async throws -> [EventDeadLetter] {
        try await pool.read { db in
            let rows =
                if let workflow {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM event_dead_letters WHERE workflow = ? ORDER BY position DESC", arguments: [workflow])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM event_dead_letters ORDER BY position DESC")
                }
            return try rows.map(Self.deadLetter)
        }
    }

    package func eventDeadLetter(id: String) async throws -> EventDeadLetter? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM event_dead_letters WHERE id = ?", arguments: [id]).map(Self.deadLetter)
        }
    }

    package func updateEventDeadLetter(_ letter: EventDeadLetter) async throws -> Bool {
        let text = letter.toValue().jsonString()
        return try await committer.write { db in
            try db.execute(sql: "UPDATE event_dead_letters SET letter = ? WHERE id = ?", arguments: [text, letter.id])
            return db.changesCount > 0 ? .done : .nothing
        }
    }

    private static func deadLetter(_ row: Row) throws -> EventDeadLetter {
        let id: String = row["id"]
        guard
            let letter = EventDeadLetter(
                value: try Value(json: row["letter"] as String), createdAt: Timestamp(nanosecondsSinceEpoch: row["created_at"]))
        else { throw StoreDataError.badDeadLetter(id: id) }
        return letter
    }
}

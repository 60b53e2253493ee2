import GRDB
import MoonflowEngine
import MoonflowModel

extension SQLiteRunStore {
    /// The run row, its activities, tasks, timers and queue entry are what the fold says.
    package func verify() async throws -> [String] {
        try await pool.read { db in
            var problems: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY position") {
                let id: String = row["id"]
                let journal = try Self.journal(id, db)
                guard let state = RunState.folding(journal) else {
                    problems.append("\(id): the journal does not fold")
                    continue
                }
                let expect = { (what: String, stored: String, folded: String) in
                    if stored != folded { problems.append("\(id): \(what) stored \(stored), folded \(folded)") }
                }
                expect("status", row["status"], state.status.rawValue)
                expect("journal length", "\(row["journal_length"] as Int)", "\(journal.count)")
                expect("workflow", row["workflow"], state.workflow)
                let timers = TimerKind.rows(of: state)
                expect("next timer", text(row["next_timer_at"]), text(timers.map(\.at.nanosecondsSinceEpoch).min()))
                let storedTimers = try Row.fetchAll(db, sql: "SELECT kind, ref, at FROM timers WHERE run_id = ? ORDER BY kind, ref, at", arguments: [id])
                    .map { "\($0["kind"] as String)/\($0["ref"] as String)@\($0["at"] as Int64)" }
                expect("timers", "\(storedTimers)", "\(Set(timers.map { "\($0.kind.rawValue)/\($0.ref)@\($0.at.nanosecondsSinceEpoch)" }).sorted())")
                for activity in try Row.fetchAll(db, sql: "SELECT * FROM activities WHERE run_id = ? ORDER BY name", arguments: [id]) {
                    let name: String = activity["name"]
                    guard let record = state.activities[name] else {
                        problems.append("\(id): activity row \(name) not in the fold")
                        continue
                    }
                    expect("\(name).status", activity["status"], record.status.rawValue)
                    expect("\(name).attempts", "\(activity["attempts"] as Int)", "\(record.attempts)")
                    expect("\(name).interruptions", "\(activity["interruptions"] as Int)", "\(record.interruptions)")
                    expect("\(name).seq", text((activity["seq"] as Int?).map(Int64.init)), text(record.seq.map(Int64.init)))
                    expect("\(name).next attempt", text(activity["next_attempt_at"]), text(record.nextAttemptAt?.nanosecondsSinceEpoch))
                }
                let storedTasks = try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE run_id = ? ORDER BY position", arguments: [id]).map(Self.task)
                expect("tasks", "\(storedTasks)", "\(Array(state.tasks.values))")
                let queued = try Bool.fetchOne(db, sql: "SELECT 1 FROM run_queue WHERE run_id = ?", arguments: [id]) == true
                expect("queue entry", "\(queued)", "\(state.status == .queued && state.queuePlace != nil)")
            }
            return problems
        }
    }
}

private func text(_ value: Int64?) -> String { value.map(String.init) ?? "null" }

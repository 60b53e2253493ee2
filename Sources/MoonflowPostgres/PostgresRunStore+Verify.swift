import MoonflowEngine
import MoonflowModel
import PostgresNIO

extension PostgresRunStore {
    /// The run row, its activities, tasks, timers and queue entry are what the fold of its journal
    /// says (docs/durability.md), read in one repeatable-read transaction.
    package func verify() async throws -> [String] {
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                // Ended before the connection goes back to the pool, whatever happened.
                let problems: Result<[String], any Error>
                do { problems = .success(try await verify(on: connection)) } catch { problems = .failure(error) }
                try await connection.query("ROLLBACK", logger: logger)
                return try problems.get()
            }
        } catch {
            throw PostgresErrors.storageError(error)
        }
    }

    private func verify(on connection: PostgresConnection) async throws -> [String] {
        func all<T>(_ query: PostgresQuery, _ decode: (PostgresRow) throws -> T) async throws -> [T] {
            var out: [T] = []
            for try await row in try await connection.query(query, logger: logger) { out.append(try decode(row)) }
            return out
        }
        var problems: [String] = []
        let runs = try await all("SELECT id, status, journal_length::bigint, workflow, next_timer_at FROM runs ORDER BY position") { row in
            try row.decode((String, String, Int64, String, Int64?).self)
        }
        for (id, status, length, workflow, nextTimer) in runs {
            let texts = try await all("SELECT event FROM journal WHERE run_id = \(id) ORDER BY seq") { try $0.decode(String.self) }
            let journal = try texts.enumerated().map { try RunEvent(storedJournalText: $1, runID: id, seq: $0 + 1) }
            guard let state = RunState.folding(journal) else {
                problems.append("\(id): the journal does not fold")
                continue
            }
            let expect = { (what: String, stored: String, folded: String) in
                if stored != folded { problems.append("\(id): \(what) stored \(stored), folded \(folded)") }
            }
            expect("status", status, state.status.rawValue)
            expect("journal length", "\(length)", "\(journal.count)")
            expect("workflow", workflow, state.workflow)
            let timers = TimerKind.rows(of: state)
            expect("next timer", text(nextTimer), text(timers.map(\.at.nanosecondsSinceEpoch).min()))
            let storedTimers = try await all("SELECT kind, ref, at FROM timers WHERE run_id = \(id) ORDER BY kind, ref, at") { row in
                let (kind, ref, at) = try row.decode((String, String, Int64).self)
                return "\(kind)/\(ref)@\(at)"
            }
            expect("timers", "\(storedTimers)", "\(Set(timers.map { "\($0.kind.rawValue)/\($0.ref)@\($0.at.nanosecondsSinceEpoch)" }).sorted())")
            let activities = try await all(
                "SELECT name, status, attempts::bigint, interruptions::bigint, seq::bigint, next_attempt_at FROM activities WHERE run_id = \(id) ORDER BY name"
            ) { try $0.decode((String, String, Int64, Int64, Int64?, Int64?).self) }
            for (name, status, attempts, interruptions, seq, nextAttempt) in activities {
                guard let record = state.activities[name] else {
                    problems.append("\(id): activity row \(name) not in the fold")
                    continue
                }
                expect("\(name).status", status, record.status.rawValue)
                expect("\(name).attempts", "\(attempts)", "\(record.attempts)")
                expect("\(name).interruptions", "\(interruptions)", "\(record.interruptions)")
                expect("\(name).seq", text(seq), text(record.seq.map(Int64.init)))
                expect("\(name).next attempt", text(nextAttempt), text(record.nextAttemptAt?.nanosecondsSinceEpoch))
            }
            let tasks = try await all("SELECT \(unescaped: Self.taskColumns) FROM tasks WHERE run_id = \(id) ORDER BY position", Self.task)
            expect("tasks", "\(tasks)", "\(Array(state.tasks.values))")
            let queued = try await all("SELECT 1::bigint FROM run_queue WHERE run_id = \(id)") { try $0.decode(Int64.self) }
            expect("queue entry", "\(!queued.isEmpty)", "\(state.status == .queued && state.queuePlace != nil)")
        }
        return problems
    }
}

private func text(_ value: Int64?) -> String { value.map(String.init) ?? "null" }

import Logging
package import MoonflowEngine
package import MoonflowModel
import PostgresNIO

/// Run admission across processes (docs/scale-out.md): `max_workflows` counted in the database.
/// A run holds a slot while its stored status is running, paused or compensating — so the transition
/// that ends it or makes it wait frees the slot in its own transaction — or while it is queued
/// and admitted (`run_admitted`) and not started yet. Counting and taking happen under one
/// transaction-scoped advisory lock, so two processes never both take the last slot.
extension PostgresRunStore {
    /// The runs holding a slot: `run_id`, `workflow`.
    private static let holders = """
        SELECT id AS run_id, workflow FROM runs WHERE status IN ('running', 'paused', 'compensating')
        UNION
        SELECT a.run_id, a.workflow FROM run_admitted a LEFT JOIN runs r ON r.id = a.run_id
        WHERE r.status = 'queued' OR (r.id IS NULL AND a.taken_at > now() - interval '1 minute')
        """

    /// The queued runs waiting for a slot.
    private static let waiting = """
        SELECT q.* FROM run_queue q JOIN runs r ON r.id = q.run_id
        WHERE r.status = 'queued' AND NOT EXISTS (SELECT 1 FROM run_admitted a WHERE a.run_id = q.run_id)
        """

    private var slotsLock: PostgresQuery { "SELECT pg_advisory_xact_lock(\(PostgresSchema.LockSpace.slots.rawValue), 0)" }

    package func takeSlot(runID: String, workflow: String, workflowMax: Int?, engineMax: Int?) async throws -> SharedSlot {
        try await transaction { connection, logger in
            try await connection.query(self.slotsLock, logger: logger)
            let (own, all) = try await Self.one(
                connection, logger,
                "SELECT count(*) FILTER (WHERE workflow = \(workflow)), count(*) FROM (\(unescaped: Self.holders)) h")
            if (workflowMax.map { own < $0 } ?? true) && (engineMax.map { all < $0 } ?? true) {
                try await connection.query(
                    "INSERT INTO run_admitted (run_id, workflow) VALUES (\(runID), \(workflow)) ON CONFLICT (run_id) DO NOTHING",
                    logger: logger)
                return .taken
            }
            let (queuedOwn, queuedAll) = try await Self.one(
                connection, logger,
                "SELECT count(*) FILTER (WHERE workflow = \(workflow)), count(*) FROM (\(unescaped: Self.waiting)) w")
            return .full(queuedInWorkflow: queuedOwn, queuedInAll: queuedAll)
        }
    }

    package func queuedWorkflows() async throws -> [String] {
        try await rows("SELECT DISTINCT workflow FROM (\(unescaped: Self.waiting)) w") { try $0.decode(String.self) }
    }

    package func admitQueued(workflowLimits: [String: ConcurrencyLimits], engineLimits: ConcurrencyLimits?) async throws
        -> [RunQueueEntry]
    {
        let claimed = try await transaction { connection, logger in
            try await connection.query(self.slotsLock, logger: logger)
            var holders: [String: String] = [:]
            for try await (runID, workflow) in try await connection.query("\(unescaped: Self.holders)", logger: logger).decode(
                (String, String).self)
            {
                holders[runID] = workflow
            }
            // Those this process may drive: its own, and nobody's (no owner, or one whose lease passed).
            var queued: [RunQueueEntry] = []
            for try await row in try await connection.query(
                """
                SELECT w.run_id, w.workflow, w.priority, w.sequence, w.enqueued_at, w.deadline
                FROM (\(unescaped: Self.waiting)) w JOIN runs r ON r.id = w.run_id
                WHERE r.owner IS NULL OR r.owner = \(self.processID)
                   OR NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = r.owner AND p.lease_until > now())
                FOR UPDATE OF r SKIP LOCKED
                """, logger: logger)
            {
                let (runID, workflow, priority, sequence, enqueuedAt, deadline) = try row.decode((String, String, Int32, Int64, Int64, Int64?).self)
                queued.append(
                    RunQueueEntry(
                        runID: runID, workflow: workflow, priority: Int(priority), sequence: UInt64(max(0, sequence)),
                        enqueuedAt: Timestamp(nanosecondsSinceEpoch: enqueuedAt), deadline: deadline.map(Timestamp.init(nanosecondsSinceEpoch:))))
            }
            guard !queued.isEmpty else { return [(RunQueueEntry, Int64)]() }
            var machine = RunAdmissionMachine(engineLimits: engineLimits, workflowLimits: workflowLimits, holders: holders, queued: queued)
            let admitted = machine.admitWaiting()
            guard !admitted.isEmpty else { return [] }
            let ids = admitted.map(\.runID)
            let workflows = admitted.map(\.workflow)
            try await connection.query(
                "INSERT INTO run_admitted (run_id, workflow) SELECT * FROM unnest(\(ids)::text[], \(workflows)::text[])", logger: logger)
            var epochs: [String: Int64] = [:]
            for try await (runID, epoch) in try await connection.query(
                "UPDATE runs SET owner = \(self.processID), epoch = epoch + 1 WHERE id = ANY(\(ids)) RETURNING id, epoch", logger: logger
            ).decode((String, Int64).self) {
                epochs[runID] = epoch
            }
            return admitted.compactMap { entry in epochs[entry.runID].map { (entry, $0) } }
        }
        for (entry, epoch) in claimed { noteClaim(entry.runID, epoch: epoch, released: false) }
        return claimed.map(\.0)
    }

    package func waitsInQueue(_ runID: String) async throws -> Bool {
        try await rows(
            """
            SELECT EXISTS (SELECT 1 FROM run_queue WHERE run_id = \(runID))
               AND NOT EXISTS (SELECT 1 FROM run_admitted WHERE run_id = \(runID))
            """
        ) { try $0.decode(Bool.self) }.first ?? false
    }

    package func freeSlot(of runID: String) async throws -> [String] {
        // An admission of a run still queued (another process's start of the same id won) stays.
        // One statement: freeing, the wake-up when runs wait, and which workflows they are of.
        try await rows(
            """
            WITH freed AS (
                DELETE FROM run_admitted a WHERE a.run_id = \(runID)
                  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = a.run_id AND r.status = 'queued')
            ), queued AS (
                SELECT DISTINCT workflow FROM (\(unescaped: Self.waiting)) w
            ), woken AS (
                SELECT pg_notify(\(Self.channel), 'slot') FROM queued LIMIT 1
            )
            SELECT workflow FROM queued WHERE (SELECT count(*) FROM woken) >= 0
            """
        ) { try $0.decode(String.self) }
    }

    package func admissionSnapshot() async throws -> RunQueueSnapshot {
        let running = try await rows("SELECT workflow, count(*) FROM (\(unescaped: Self.holders)) h GROUP BY workflow") {
            try $0.decode((String, Int64).self)
        }
        let queued = try await rows(
            "SELECT run_id, workflow, priority, sequence, enqueued_at, deadline FROM (\(unescaped: Self.waiting)) w ORDER BY sequence, run_id"
        ) { row in
            let (runID, workflow, priority, sequence, enqueuedAt, deadline) = try row.decode((String, String, Int32, Int64, Int64, Int64?).self)
            return RunQueueEntry(
                runID: runID, workflow: workflow, priority: Int(priority), sequence: UInt64(max(0, sequence)),
                enqueuedAt: Timestamp(nanosecondsSinceEpoch: enqueuedAt), deadline: deadline.map(Timestamp.init(nanosecondsSinceEpoch:)))
        }
        return RunQueueSnapshot(
            running: Dictionary(uniqueKeysWithValues: running.map { ($0.0, Int($0.1)) }), totalRunning: Int(running.map(\.1).reduce(0, +)),
            queued: queued)
    }

    /// One transaction on one pooled connection, with its errors as storage errors.
    private func transaction<T: Sendable>(_ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection, self.logger) }
        } catch {
            throw PostgresErrors.storageError(error)
        }
    }

    /// The two counts of a one-row query.
    private static func one(_ connection: PostgresConnection, _ logger: Logger, _ query: PostgresQuery) async throws -> (Int, Int) {
        for try await (first, second) in try await connection.query(query, logger: logger).decode((Int64, Int64).self) {
            return (Int(first), Int(second))
        }
        return (0, 0)
    }
}

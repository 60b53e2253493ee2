import Foundation
import Logging
package import MoonflowEngine
package import MoonflowModel
import PostgresNIO

/// Claiming runs across processes (docs/scale-out.md): one heartbeat per process renews its lease;
/// runs whose owner's lease expired, and due timers of runs nobody drives, are claimed with
/// `FOR UPDATE SKIP LOCKED`, each claim bumping the run's epoch; `NOTIFY moonflow_work` wakes the
/// other processes when one hands its runs over, with polling as the fallback.
extension PostgresRunStore {
    static let channel = "moonflow_work"

    /// This process's claim on a run: its epoch and, when this process wrote the run's last
    /// transition under it, the state that write stored.
    struct Claim: Sendable {
        var epoch: Int64
        var written: RunState?
    }

    /// The state this process wrote last under its claim, without a round trip: while the claim is
    /// this process's, no other writes the run (every write checks the epoch, docs/scale-out.md), and
    /// a write that lost the claim or whose outcome is unknown forgets the state. Else the stored state.
    package func stateToDrive(of runID: String) async throws -> RunState? {
        if let written = claims.withLock({ $0[runID]?.written }) { return written }
        return try await state(of: runID)
    }

    /// Milliseconds of the lease, for SQL intervals.
    var leaseMilliseconds: Int64 {
        options.lease.components.seconds * 1000 + options.lease.components.attoseconds / 1_000_000_000_000_000
    }

    /// Registers this process, or renews its lease (database time).
    func heartbeat() async throws {
        try await execute(
            """
            INSERT INTO processes (id, host, pid, machine, lease_until)
            VALUES (\(processID), \(ProcessInfo.processInfo.hostName), \(Int64(getpid())), \(Self.machine),
                    now() + \(leaseMilliseconds) * interval '1 millisecond')
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), lease_until = excluded.lease_until
            """)
    }

    /// The kernel's boot id and this process's pid namespace: two processes that share it see the
    /// same pids, so one can tell the other's pid no longer runs.
    static let machine: String = {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "unknown"
        return "\(boot)/\(namespace)"
    }()

    /// Ends the lease of every process of this machine whose pid no longer runs (it crashed): its
    /// runs can be taken over at once rather than when its lease runs out. A pid that was reused
    /// looks alive, and that process's runs wait for its lease as any other's.
    func expireDeadNeighbours() async throws {
        let neighbours = try await rows(
            "SELECT id, pid::bigint FROM processes WHERE machine = \(Self.machine) AND id <> \(processID) AND lease_until > now()"
        ) { try $0.decode((String, Int64).self) }
        for (id, pid) in neighbours where kill(pid_t(pid), 0) != 0 && errno == ESRCH {
            try await execute("UPDATE processes SET lease_until = now() WHERE id = \(id)")
            logger.notice("an engine process of this machine is gone: its runs are taken over", metadata: ["process": .string(id)])
        }
    }

    /// The heartbeat, three times per lease, and the listener; both end with the store.
    func startBackgroundWork() {
        let interval = options.lease / 3
        let heartbeat = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                do {
                    try await self.heartbeat()
                } catch {
                    self.logger.warning("heartbeat failed", metadata: ["error": .string("\(error)")])
                }
            }
        }
        // Not holding the store: it ends when the store goes (its deinit cancels this task).
        let (client, logger, wake) = (client, logger, announcements.continuation)
        let listener = Task {
            while !Task.isCancelled {
                await Self.listen(client, logger: logger, wake: wake)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        background.withLock { $0 += [heartbeat, listener] }
    }

    /// Listens on one pooled connection until it fails; each notification is one wake-up (coalesced).
    private static func listen(_ client: PostgresClient, logger: Logger, wake: AsyncStream<Void>.Continuation) async {
        do {
            try await client.withConnection { connection in
                try await connection.listen(on: channel) { notifications in
                    for try await _ in notifications { wake.yield() }
                }
            }
        } catch {
            logger.debug("listening for work failed", metadata: ["error": .string("\(error)")])
        }
    }

    package func waitForWork(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in self.announcements.stream { return }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    package func claimReadyRuns(limit: Int) async throws -> [String] {
        try await expireDeadNeighbours()
        // Processes gone for a day are forgotten (a run still naming one is nobody's all the same).
        try await execute("DELETE FROM processes WHERE lease_until < now() - interval '1 day'")
        let claimed = try await rows(
            """
            WITH ready AS (
                SELECT r.id FROM runs r
                WHERE r.status IN ('queued', 'running', 'paused', 'compensating') AND r.owner IS DISTINCT FROM \(processID)
                  AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = r.owner AND p.lease_until > now())
                ORDER BY r.position LIMIT \(Int64(max(1, limit)))
                FOR UPDATE OF r SKIP LOCKED
            )
            UPDATE runs SET owner = \(processID), epoch = runs.epoch + 1 FROM ready WHERE runs.id = ready.id
            RETURNING runs.id, runs.epoch, runs.position
            """
        ) { try $0.decode((String, Int64, Int64).self) }
        for (runID, epoch, _) in claimed { noteClaim(runID, epoch: epoch, released: false) }
        return claimed.sorted { $0.2 < $1.2 }.map(\.0)
    }

    /// Timers due at `now` of the runs this process drives or may claim — nobody's, or an expired
    /// owner's. Those due by the database's clock are claimed here (another process skips them, so
    /// each timer fires in one); those only `now` reaches (the timer service looks a little ahead
    /// to know how long to sleep) are returned unclaimed, and claimed by the write that fires them.
    package func dueTimers(at now: Timestamp) async throws -> [DueTimer] {
        let at = now.nanosecondsSinceEpoch
        let due = try await rows(
            """
            WITH free AS (
                SELECT r.id, r.owner, r.position FROM runs r
                WHERE r.id IN (SELECT run_id FROM timers WHERE at <= \(at))
                  AND (r.owner = \(processID) OR NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = r.owner AND p.lease_until > now()))
            ), due AS (
                -- The owner checked again on the row itself: a process that claimed it after this
                -- statement's snapshot committed a new owner, which the lock sees (and then skips).
                SELECT r.id FROM runs r JOIN free f ON f.id = r.id
                WHERE (f.owner = \(processID) OR r.id IN (SELECT run_id FROM timers WHERE at <= (extract(epoch FROM now()) * 1e9)::bigint))
                  AND (r.owner IS NULL OR r.owner = \(processID)
                       OR NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = r.owner AND p.lease_until > now()))
                FOR UPDATE OF r SKIP LOCKED
            ), claimed AS (
                UPDATE runs SET owner = \(processID), epoch = runs.epoch + CASE WHEN runs.owner = \(processID) THEN 0 ELSE 1 END
                FROM due WHERE runs.id = due.id
                RETURNING runs.id, runs.epoch, runs.position
            )
            SELECT t.run_id, t.kind, t.ref, t.at, c.epoch, c.position FROM timers t JOIN claimed c ON c.id = t.run_id WHERE t.at <= \(at)
            UNION ALL
            SELECT t.run_id, t.kind, t.ref, t.at, NULL, f.position FROM timers t JOIN free f ON f.id = t.run_id
            WHERE t.at <= \(at) AND f.owner IS DISTINCT FROM \(processID)
              AND t.run_id NOT IN (SELECT run_id FROM timers WHERE at <= (extract(epoch FROM now()) * 1e9)::bigint)
            ORDER BY 4, 6
            """
        ) { try $0.decode((String, String, String, Int64, Int64?, Int64).self) }
        var timers: [DueTimer] = []
        for (runID, kind, ref, at, epoch, _) in due {
            if let epoch { noteClaim(runID, epoch: epoch, released: false) }
            guard let kind = TimerKind.runTimerKind(kind, ref: ref) else { continue }
            timers.append(DueTimer(runID: runID, timer: RunTimer(kind: kind, at: Timestamp(nanosecondsSinceEpoch: at))))
        }
        return timers
    }

    package func releaseAll() async throws {
        try await execute("UPDATE runs SET owner = NULL WHERE owner = \(processID)")
        try await execute("DELETE FROM processes WHERE id = \(processID)")
        try await execute("SELECT pg_notify(\(Self.channel), \(processID))")
        claims.withLock { $0.removeAll() }
    }

    /// The engine processes of the cluster, for monitoring: id, host, last heartbeat, runs owned.
    package func processes() async throws -> [EngineProcess] {
        try await rows(
            """
            SELECT p.id, p.host, p.pid::bigint, (extract(epoch FROM p.heartbeat_at) * 1e9)::bigint,
                   p.lease_until > now(), (SELECT count(*) FROM runs r WHERE r.owner = p.id)::bigint
            FROM processes p ORDER BY p.started_at
            """
        ) { row in
            let (id, host, pid, heartbeat, alive, owned) = try row.decode((String, String, Int64, Int64, Bool, Int64).self)
            return EngineProcess(
                id: id, host: host, pid: Int(pid), lastHeartbeat: Timestamp(nanosecondsSinceEpoch: heartbeat), alive: alive, runsOwned: Int(owned))
        }
    }
}

import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowPostgres
import MoonflowTestSupport
import Testing

/// A transaction another client forgot open (docs/scale-out.md): it holds one run's row, and a
/// snapshot; the transitions of every other run go on at least at half the rate (its run's writes
/// are refused as busy at once, not waited on with the cluster's positions lock held).
@Suite(.timeLimit(.minutes(2)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct PostgresForgottenTransactionTests {
    /// Transitions written across the runs during `window`, and writes refused as busy.
    static func measure(_ store: PostgresRunStore, runs: [String], for window: Duration) async throws -> (written: Int, busy: Int) {
        let deadline = ContinuousClock.now + window
        return try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for runID in runs {
                group.addTask {
                    var state = try #require(try await store.state(of: runID))
                    var (written, busy) = (0, 0)
                    while ContinuousClock.now < deadline {
                        let event = RunEvent(
                            .activityLog(ScriptLogEntry(level: "info", message: "tick")), runID: runID, workflow: "w", activity: "a", attempt: 1,
                            at: Timestamp(Date()))
                        var next = state
                        next.apply(event)
                        do {
                            try await store.append(runID, events: [event], newState: next)
                            state = next
                            written += 1
                        } catch RunStoreError.storageBusy {
                            busy += 1
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                    return (written, busy)
                }
            }
            return try await group.reduce(into: (written: 0, busy: 0)) { total, one in
                total.written += one.0
                total.busy += one.1
            }
        }
    }

    @Test func aTransactionLeftOpenOnARunDoesNotHoldBackTheOthers() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let database = String(url.split(separator: "/").last!)
        let store = try await PostgresClaimTests.open(url)
        _ = try await EventPositionStoreTests.drive(store, runs: 20, steps: 1)
        let runs = (0..<20).map { "r\($0)" }
        let baseline = try await Self.measure(store, runs: runs, for: .seconds(2))

        // Another client: a transaction that locked r0's row and read the journal, then idles.
        let forgotten = Process()
        forgotten.executableURL = cluster.binaries.appendingPathComponent("psql")
        forgotten.arguments = [
            "-X", "-q", "-h", cluster.host, "-p", "\(cluster.port)", "-U", cluster.user, "-d", database,
            "-c", "BEGIN", "-c", "SELECT id FROM runs WHERE id = 'r0' FOR UPDATE", "-c", "SELECT count(*) FROM journal", "-c", "\\! sleep 6",
            "-c", "COMMIT",
        ]
        forgotten.environment = ["PGPASSWORD": cluster.password, "PATH": "/usr/bin:/bin"]
        forgotten.standardOutput = FileHandle.nullDevice
        try forgotten.run()
        defer { if forgotten.isRunning { forgotten.terminate() } }
        // Until its transaction is open and idle.
        let idle = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND application_name <> 'moonflow'"
        let opened = ContinuousClock.now + .seconds(30)
        while try await cluster.psql(idle, database: database).trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
            try #require(ContinuousClock.now < opened, "the psql session did not open its transaction")
            try await Task.sleep(for: .milliseconds(20))
        }
        let held = try await Self.measure(store, runs: runs, for: .seconds(2))
        print("forgotten transaction: \(baseline.written) transitions in 2 s before, \(held.written) while it was open (\(held.busy) refused as busy)")
        #expect(held.written * 2 >= baseline.written)
        #expect(held.busy > 0)
        forgotten.waitUntilExit()
        // Once it ended, the run it held is written again.
        #expect(try await Self.measure(store, runs: ["r0"], for: .milliseconds(300)).written > 0)
        try await expectConsistent(store)
    }
}

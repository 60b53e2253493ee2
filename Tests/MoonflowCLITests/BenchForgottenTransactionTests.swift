@testable import MoonflowBench
import MoonflowModel
import MoonflowTestSupport
import Testing

/// `moonflow bench --scenario forgotten`: the sustained load with and without another session's
/// open transaction. Timings are not asserted; what is: the transaction is held while the load
/// runs, and given back after, and each timeline's windows are reported.
@Suite(.timeLimit(.minutes(2)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct BenchForgottenTransactionTests {
    @Test func anotherSessionHoldsATransactionOpenWhileTheLoadRunsAndEndsIt() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase()
        let database = String(url.split(separator: "/").last ?? "")
        let location = try PostgresLocation(url: url, tls: .disable)
        let context = BenchContext(
            repetitions: 1, store: .postgres(location), luaFloor: BenchFloor(name: "lua", nanos: 1),
            commitFloor: BenchFloor(name: "commit", nanos: 1))
        let holding = """
            SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'moonflow-bench'
              AND state = 'idle in transaction' AND backend_xid IS NOT NULL
            """
        let scenario = ForgottenTransactionScenario(seconds: 3, window: 1, workers: 4)
        let run = Task { try await scenario.run(context) }
        // The held phase follows 3 s without: looked for until it is seen (or for 60 s at most).
        var seenHeld = false
        for _ in 0..<600 where !seenHeld {
            seenHeld = try await cluster.psql(holding, database: database).trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            try await Task.sleep(for: .milliseconds(100))
        }
        let figures = try await run.value
        #expect(seenHeld)
        #expect(try await cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'moonflow-bench'").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(figures.map(\.metric) == ["no tx open: first 1 s", "no tx open: last 1 s", "tx open: first 1 s", "tx open: last 1 s of 3"])
        #expect(figures.allSatisfy { $0.unit == "transition" && $0.checked == "every run output 40" && $0.floor?.name == "commit" })
        #expect(figures.last?.target != nil)
    }

    @Test func withAnotherStoreTheScenarioReportsNothing() async throws {
        let context = BenchContext(repetitions: 1, store: .memory, luaFloor: BenchFloor(name: "lua", nanos: 1), commitFloor: nil)
        #expect(try await ForgottenTransactionScenario(seconds: 1, window: 1, workers: 1).run(context).isEmpty)
    }
}

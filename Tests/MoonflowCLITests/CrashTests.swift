import Foundation
import Logging
import MoonflowEngine
import MoonflowModel
import MoonflowPostgres
import MoonflowStore
import MoonflowTestSupport
import Testing

/// Crash recovery (docs/durability.md) with real processes: the built `moonflow` is killed — by `kill -9`, or
/// by a failpoint that `_exit(137)`s at a chosen moment — and `moonflow runs resume` restarts it on
/// the same store. What happened is read back from the store's journal. Each runs on SQLite and on
/// PostgreSQL (a database of its own on the tests' throwaway cluster).
@Suite(.serialized, .timeLimit(.minutes(3))) struct CrashTests {
    @Test(arguments: CrashStore.allCases)
    func aLinearRunKilledWhileBRunsRerunsOnlyBWithTheSameIdempotencyKey(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        let killed = try await project.moonflow(["run", "linear", "--run-id", "r1"], failpoints: "during:activity_body:b")
        #expect(killed.status == 137)
        await #expect(try project.moonflow(["runs", "resume"]).status == 0)
        let journal = try await project.journal("r1")
        #expect(journal.attempts(of: "a") == [1])
        #expect(journal.attempts(of: "b") == [1, 2])
        #expect(journal.attempts(of: "c") == [1])
        #expect(journal.filter { $0.type == .activityInterrupted }.map(\.activity) == ["b"])
        let state = try await project.state("r1")
        #expect(state.status == .completed)
        #expect(state.activities["b"]?.output == ["key": "r1:b", "attempt": 2])
        // The independent witness: a and c ran once; b's killed attempt never reached its body's
        // end or did, but its second attempt ran once and completed.
        #expect(try project.ledgerAttempts(run: "r1", activity: "a") == [1])
        #expect(try project.ledgerAttempts(run: "r1", activity: "c") == [1])
        #expect(try project.ledgerAttempts(run: "r1", activity: "b").last == 2)
        #expect(try project.ledgerAttempts(run: "r1", activity: "b").filter { $0 == 2 }.count == 1)
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func aCompletionCommittedBeforeTheKillNeverRunsAgain(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        await #expect(try project.moonflow(["run", "linear", "--run-id", "r1"], failpoints: "after_commit:activity_completed:a").status == 137)
        await #expect(try project.moonflow(["runs", "resume", "r1"]).status == 0)
        #expect(try await project.journal("r1").attempts(of: "a") == [1])
        // Killed before the completion committed: not acknowledged, so the attempt runs again.
        await #expect(try project.moonflow(["run", "linear", "--run-id", "r2"], failpoints: "before_commit:activity_completed:a").status == 137)
        await #expect(try project.moonflow(["runs", "resume"]).status == 0)
        #expect(try await project.journal("r2").attempts(of: "a") == [1, 2])
        // The ledger agrees: committed once means ran once; killed before the commit means ran twice.
        #expect(try project.ledgerAttempts(run: "r1", activity: "a") == [1])
        #expect(try project.ledgerAttempts(run: "r2", activity: "a") == [1, 2])
        #expect(try await project.state("r2").status == .completed)
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func aKillDuringBackoffWaitsUntilTheStoredTimeAndKeepsTheCount(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        await #expect(try project.moonflow(["run", "flaky", "--run-id", "f1"], failpoints: "after_commit:activity_retrying:b").status == 137)
        let stored = try #require(try await project.journal("f1").last { $0.type == .activityRetrying })
        let nextAttemptAt = try #require(stored.data["next_attempt_at"]?.intValue)
        await #expect(try project.moonflow(["runs", "resume"]).status == 0)
        let journal = try await project.journal("f1")
        #expect(journal.attempts(of: "b") == [1, 2])
        let second = try #require(journal.last { $0.type == .activityStarted && $0.activity == "b" })
        #expect(second.at.nanosecondsSinceEpoch >= nextAttemptAt)
        #expect(try await project.state("f1").activities["b"]?.attempts == 2)
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func aKillDuringCompensationContinuesWithThePendingOnesInOrder(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        let killed = try await project.moonflow(["run", "saga", "--run-id", "s1"], failpoints: "after_commit:compensation_completed:c")
        #expect(killed.status == 137)
        #expect(try await project.state("s1").status == .compensating)
        await #expect(try project.moonflow(["runs", "resume"]).status == 1)
        let journal = try await project.journal("s1")
        #expect(journal.filter { $0.type == .compensationStarted }.compactMap(\.activity) == ["c", "b", "a"])
        #expect(journal.filter { $0.type == .compensationCompleted }.compactMap(\.activity) == ["c", "b", "a"])
        #expect(try await project.state("s1").status == .compensated)
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func aWaitingTaskKeepsItsTokenAcrossAKill(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        await #expect(try project.moonflow(["run", "approval", "--run-id", "t1"]).status == 3)
        let before = try await Value(json: try project.moonflow(["tasks", "show", "t1:ask:1", "--format", "json"]).stdout)
        let background = try project.start(["runs", "resume"])
        try await Task.sleep(for: .milliseconds(150))
        background.kill()
        let after = try await Value(json: try project.moonflow(["tasks", "show", "t1:ask:1", "--format", "json"]).stdout)
        #expect(after["token"] == before["token"])
        #expect(after["status"] == "open")
        let done = try await project.moonflow(["tasks", "complete", "t1:ask:1", "--user", "alice", "--data", #"{"ok": true}"#])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try await project.state("t1").status == .completed)
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func queuedRunsStartInTheirOrderAfterARestart(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        for id in ["q1", "q2", "q3"] {
            await #expect(try project.moonflow(["run", "linear", "--run-id", id], failpoints: "after_commit:run_queued").status == 137)
        }
        #expect(try await project.states().map(\.status) == [.queued, .queued, .queued])
        await #expect(try project.moonflow(["runs", "resume"]).status == 0)
        let states = try await project.states()
        #expect(states.map(\.status) == [.completed, .completed, .completed])
        for (earlier, later) in zip(states, states.dropFirst()) {
            #expect(try #require(earlier.finishedAt) <= (try #require(later.startedAt)))
        }
        try await project.expectConsistent()
    }

    @Test(arguments: CrashStore.allCases)
    func twentyRandomKillsEndWithEveryActivityCompletedOnce(_ kind: CrashStore) async throws {
        let project = try await CrashProject.make(kind)
        var generator = SystemRandomNumberGenerator()
        await #expect(try project.moonflow(["run", "chaos", "--run-id", "x1"], failpoints: "after_commit:run_queued").status == 137)
        var hits = 0
        for _ in 0..<20 {
            let process = try project.start(["runs", "resume"])
            try await Task.sleep(for: .milliseconds(Int.random(in: 30...400, using: &generator)))
            if process.kill() { hits += 1 }
        }
        print("chaos (\(kind)): \(hits) of 20 kills hit a running engine")
        let final = try await project.moonflow(["runs", "resume"])
        #expect(final.status == 0, "\(final.stderr)")
        let journal = try await project.journal("x1")
        for index in 1...10 {
            #expect(journal.filter { $0.type == .activityCompleted && $0.activity == "s\(index)" }.count == 1)
        }
        #expect(try await project.state("x1").status == .completed)
        try await project.expectConsistent()
    }

    @Test func aSecondEngineOnTheSameStoreIsRefused() async throws {
        let project = try await CrashProject.make(.sqlite)
        let first = try project.start(["run", "sleeper", "--run-id", "z1"])
        defer { first.kill() }
        // Wait until the first engine holds the store (it waits on a 60s timer), probing the lock
        // file without opening the store.
        let lockPath = project.directory.appendingPathComponent(".moonflow/state.db.lock").path
        var held = false
        for _ in 0..<200 where !held {
            try await Task.sleep(for: .milliseconds(50))
            let descriptor = open(lockPath, O_RDONLY)
            guard descriptor >= 0 else { continue }
            held = flock(descriptor, LOCK_SH | LOCK_NB) != 0
            close(descriptor)
        }
        #expect(held)
        let refused = try await project.moonflow(["runs", "list"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("is in use by another Moonflow process"))
        first.kill()
        let after = try await project.moonflow(["runs", "list"])
        #expect(after.status == 0)
    }
}

// MARK: - Support

/// The stores the crash tests run on.
enum CrashStore: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A project with the crash-test workflows and its own store, in a temporary folder: a SQLite file
/// in it, or a PostgreSQL database of its own (named in its moonflow.yaml, the password in the
/// environment of every `moonflow` it runs).
final class CrashProject: Sendable {
    let directory: URL
    /// The database's URL, with its password, when the store is PostgreSQL.
    let postgres: String?
    /// `password_env` of the PostgreSQL store.
    static let passwordVariable = "MOONFLOW_TEST_PG_PASSWORD"

    static func make(_ kind: CrashStore) async throws -> CrashProject {
        switch kind {
        case .sqlite: return try CrashProject(postgres: nil, password: nil)
        case .postgres:
            guard PostgresCluster.installed else { try Test.cancel(Comment(rawValue: PostgresCluster.notInstalled)) }
            let cluster = try await PostgresCluster.shared()
            let url = try await cluster.createDatabase()
            return try CrashProject(postgres: url, password: cluster.password)
        }
    }

    private let password: String?

    /// A project on a SQLite file.
    convenience init() throws { try self.init(postgres: nil, password: nil) }

    private init(postgres: String?, password: String?) throws {
        self.postgres = postgres
        self.password = password
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-crash-\(UUID().uuidString)")
        var configuration = "concurrency: {max_workflows: 1}\n"
        if let postgres, let location = try? PostgresLocation(url: postgres) {
            configuration += """
                store: {postgres: "postgres://\(location.user)@\(location.host):\(location.port)/\(location.database)", \
                password_env: \(Self.passwordVariable), tls: disable}

                """
        }
        let files: [String: String] = [
            "moonflow.yaml": configuration,
            "workflows/linear.yaml": """
                workflow: linear
                activities:
                  - {name: a, run: "test.ledger('ran') return 1"}
                  - {name: b, run: "test.ledger('ran') return {key = activity.idempotency_key, attempt = activity.attempt}"}
                  - {name: c, run: "test.ledger('ran') return 3"}
                """,
            "workflows/flaky.yaml": """
                workflow: flaky
                activities:
                  - {name: a, run: "return 1"}
                  - name: b
                    retry: {max_attempts: 3, backoff: {initial: 1s}}
                    run: |
                      if activity.attempt == 1 then error("first attempt fails") end
                      return 2
                """,
            "workflows/saga.yaml": """
                workflow: saga
                activities:
                  - {name: a, run: "return 1", compensate: {run: "return 1"}}
                  - {name: b, run: "return 2", compensate: {run: "return 2"}}
                  - {name: c, run: "return 3", compensate: {run: "return 3"}}
                  - {name: d, run: "error('boom')"}
                """,
            "workflows/approval.yaml": """
                workflow: approval
                activities:
                  - name: ask
                    type: manual
                    assign: {users: [alice]}
                    form: {type: object, required: [ok], properties: {ok: {type: boolean}}}
                  - {name: after, run: "return steps.ask.output"}
                """,
            "workflows/sleeper.yaml": """
                workflow: sleeper
                activities:
                  - {name: nap, call: sleep, with: {duration: 60s}}
                """,
            "workflows/chaos.yaml": "workflow: chaos\nactivities:\n"
                + (1...10).map {
                    // Up to 20 kills may land on one activity: allow them (the default, 3, fails it with WorkerCrashed).
                    "  - name: s\($0)\n    retry: {max_attempts: 1, max_interruptions: 25}\n"
                        + "    run: |\n      local x = 0\n      for i = 1, 2000000 do x = x + i end\n      return x\n"
                }
                .joined(),
        ]
        for (path, text) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Every body that calls `test.ledger` appends a line here and fsyncs it: a witness of how
    /// often a body really ran, independent of the store (docs/testing.md).
    var ledger: URL { directory.appendingPathComponent("ledger.jsonl") }

    /// What every `moonflow` of the project runs with.
    var environment: [String: String] {
        var environment = ["MOONFLOW_TEST_LEDGER": ledger.path]
        if let password { environment[Self.passwordVariable] = password }
        return environment
    }

    func moonflow(_ arguments: [String], failpoints: String? = nil) async throws -> CLIResult {
        var environment = environment
        if let failpoints { environment["MOONFLOW_FAILPOINTS"] = failpoints }
        return try await CLIRunner.run(arguments + ["--project", directory.path], in: directory, environment: environment)
    }

    func start(_ arguments: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(arguments + ["--project", directory.path], in: directory, environment: environment)
    }

    /// The attempts the ledger saw of one activity of one run, in the order they ran.
    func ledgerAttempts(run: String, activity: String) throws -> [Int64] {
        guard let data = FileManager.default.contents(atPath: ledger.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { try Value(json: String($0)) }
            .filter { $0["run"] == .string(run) && $0["activity"] == .string(activity) }
            .compactMap { $0["attempt"]?.intValue }
    }

    /// The store, opened once the engine process is gone (a SQLite file has one owner).
    func withStore<T>(_ body: (any DurableRunStore) async throws -> T) async throws -> T {
        if let postgres {
            let store = try await PostgresRunStore.open(
                PostgresStoreOptions(try PostgresLocation(url: postgres, tls: .disable)),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            return try await body(store)
        }
        let store = try SQLiteRunStore(path: directory.appendingPathComponent(".moonflow/state.db").path)
        // Closed here, not whenever the last reference goes: the next call opens it again at once.
        defer { try? store.close() }
        return try await body(store)
    }

    func journal(_ runID: String) async throws -> [RunEvent] { try await withStore { try await $0.journal(of: runID) } }

    func state(_ runID: String) async throws -> RunState {
        try await withStore { store in try #require(try await store.state(of: runID)) }
    }

    func states() async throws -> [RunState] { try await withStore { try await $0.runs(status: nil) } }

    /// Stored state equals the fold of every journal, and SQLite finds the file sound.
    func expectConsistent(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        try await withStore { store in
            let problems = try await store.verify()
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
            if let sqlite = store as? SQLiteRunStore {
                #expect(try await sqlite.integrityCheck() == ["ok"], sourceLocation: sourceLocation)
            }
        }
    }
}

/// The `moonflow` binary running in the background, to be killed with SIGKILL.
final class BackgroundProcess {
    private let process: Process

    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    /// `kill -9`, then waits for the process; `true` when it was still running (the kill hit it).
    @discardableResult
    func kill() -> Bool {
        let running = process.isRunning
        if running { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return running && process.terminationReason == .uncaughtSignal
    }
}

extension [RunEvent] {
    /// The attempt numbers of an activity's `activity.started` entries, in order.
    func attempts(of activity: String) -> [Int] {
        filter { $0.type == .activityStarted && $0.activity == activity }.compactMap(\.attempt)
    }
}

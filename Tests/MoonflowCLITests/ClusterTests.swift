import Foundation
import MoonflowModel
import MoonflowTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Three `moonflow serve` processes on one PostgreSQL database (docs/scale-out.md): runs started
/// across them, one killed with `kill -9` midway — every acknowledged run completes, no committed
/// completion runs again, the killed process's runs are taken over, and a 2 s `sleep` of one of
/// its runs fires once, not before its time.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: PostgresCluster.installed, Comment(rawValue: PostgresCluster.notInstalled)))
struct ClusterTests {
    static let work = """
        workflow: work
        activities:
          - {name: a, run: "test.ledger('ran') local x = 0 for i = 1, 200000 do x = x + i end return x"}
          - {name: b, needs: [a], run: "test.ledger('ran') local x = 0 for i = 1, 1000000 do x = x + i end return steps.a.output + 1"}
          - {name: c, needs: [b], run: "test.ledger('ran') return steps.b.output + 1"}
        """
    static let nap = """
        workflow: nap
        activities:
          - {name: nap, call: sleep, with: {duration: 2s}}
          - {name: after, needs: [nap], run: "test.ledger('ran') return 1"}
        """

    @Test func threeProcessesShareTheRunsAndTakeOverTheOneKilled() async throws {
        let cluster = try await PostgresCluster.shared()
        let project = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-cluster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: project) }
        let ledger = project.appendingPathComponent("ledger.jsonl")
        let database = try await Self.writeProject(at: project, cluster: cluster, workflows: ["work": Self.work, "nap": Self.nap])
        var servers: [(process: Process, port: Int)] = []
        defer { for server in servers where server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        servers = try await Self.startServers(project: project, cluster: cluster, ledger: ledger)

        var acknowledged: [String] = []
        let napStartedAt = Date()
        #expect(try await Self.start("nap", runID: "nap1", port: servers[2].port) == 201)
        for index in 0..<100 {
            if try await Self.start("work", runID: "w\(index)", port: servers[index % 3].port) == 201 { acknowledged.append("w\(index)") }
        }
        // Fifty at once on the third server, killed as soon as they are acknowledged: it is
        // driving some, has others waiting in its dispatcher.
        let third = servers[2].port
        acknowledged += try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 100..<150 {
                group.addTask { try await Self.start("work", runID: "w\(index)", port: third) == 201 ? "w\(index)" : nil }
            }
            return try await group.reduce(into: []) { if let id = $1 { $0.append(id) } }
        }
        kill(servers[2].process.processIdentifier, SIGKILL)
        servers[2].process.waitUntilExit()
        for index in 150..<300 {
            if try await Self.start("work", runID: "w\(index)", port: servers[index % 2].port) == 201 { acknowledged.append("w\(index)") }
        }
        let killedAt = Date()
        #expect(acknowledged.count == 300)

        // Every acknowledged run completes; the killed process's runs are taken over in time.
        let deadline = Date().addingTimeInterval(120)
        var completed = 0
        while Date() < deadline {
            completed = Int(try await cluster.psql("SELECT count(*) FROM runs WHERE status = 'completed'", database: database)
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            if completed == 301 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let unfinished = try await cluster.psql("SELECT id, status, owner FROM runs WHERE status <> 'completed'", database: database)
        #expect(completed == 301, "\(unfinished)")
        #expect(Date().timeIntervalSince(killedAt) < 30 + 15)
        // No committed completion ran again: one completion per activity, and the ledger saw each
        // activity at most once more than the journal's interrupted attempts.
        let repeated = try await cluster.psql(
            "SELECT run_id, activity FROM journal WHERE type = 'activity.completed' GROUP BY run_id, activity HAVING count(*) > 1",
            database: database)
        #expect(repeated.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let lines = String(decoding: (try? Data(contentsOf: ledger)) ?? Data(), as: UTF8.self).split(separator: "\n")
        let ran = try lines.map { try Value(json: String($0)) }
        let interruptions = Int(try await cluster.psql(
            "SELECT count(*) FROM journal WHERE type = 'activity.interrupted'", database: database)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let takenOver = Int(try await cluster.psql("SELECT count(*) FROM runs WHERE epoch > 1", database: database)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        print("cluster: \(takenOver) runs taken over, \(interruptions) attempts interrupted by the kill")
        #expect(takenOver > 1)
        #expect(ran.count >= 901)
        #expect(ran.count <= 901 + interruptions)
        // The killed process's 2 s sleep fired once, not before 2 s.
        let napEvents = try await cluster.psql(
            "SELECT type || ' ' || coalesce(activity, '') || ' ' || at FROM journal WHERE run_id = 'nap1' ORDER BY seq", database: database)
        let completions = napEvents.split(separator: "\n").filter { $0.hasPrefix("activity.completed nap ") }
        #expect(completions.count == 1)
        if let line = completions.first, let at = Int64(line.split(separator: " ").last ?? "") {
            #expect(Double(at) / 1e9 >= napStartedAt.timeIntervalSince1970 + 2)
        }
        #expect(ran.filter { $0["run"] == "nap1" }.count == 1)
        // The cluster as monitoring shows it: the two survivors alive, the killed one not.
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(servers[0].port)/v1/monitoring")!)
        let processes = try Value(json: String(decoding: data, as: UTF8.self))["processes"]?.arrayValue ?? []
        let killedPID = Int64(servers[2].process.processIdentifier)
        #expect(processes.filter { $0["alive"] == true }.count == 2)
        #expect(processes.first { $0["pid"]?.intValue == killedPID }?["alive"] == false)
    }

    /// A project whose store is a new database of `cluster`; returns the database's name.
    static func writeProject(at project: URL, cluster: PostgresCluster, workflows: [String: String]) async throws -> String {
        let url = try await cluster.createDatabase()
        let database = String(url.split(separator: "/").last!)
        var files = [
            "moonflow.yaml": """
                store: {postgres: "postgres://\(cluster.user)@\(cluster.host):\(cluster.port)/\(database)", password_env: MOONFLOW_TEST_PG_PASSWORD, tls: disable}
                """
        ]
        for (name, text) in workflows { files["workflows/\(name).yaml"] = text }
        for (path, text) in files {
            let file = project.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        return database
    }

    /// Three `moonflow serve` of the project, each on a free port, once all answer `/health`.
    static func startServers(project: URL, cluster: PostgresCluster, ledger: URL) async throws -> [(process: Process, port: Int)] {
        let environment = ["MOONFLOW_TEST_PG_PASSWORD": cluster.password, "MOONFLOW_TEST_LEDGER": ledger.path]
        var servers: [(process: Process, port: Int)] = []
        do {
            for _ in 0..<3 {
                let port = try freeLoopbackPort()
                let process = Process()
                process.executableURL = CLIRunner.binary
                process.arguments = ["serve", "--insecure-no-auth", "--port", "\(port)", "--project", project.path]
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                servers.append((process, port))
            }
        } catch {
            for server in servers { kill(server.process.processIdentifier, SIGKILL) }
            throw error
        }
        for server in servers { try await Self.waitUntilHealthy(port: server.port) }
        return servers
    }

    static func waitUntilHealthy(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the server on port \(port) did not come up")
    }

    /// `POST /v1/runs`; the status code.
    static func start(_ workflow: String, runID: String, port: Int) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/runs")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"workflow": "\#(workflow)", "run_id": "\#(runID)", "input": {}}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}

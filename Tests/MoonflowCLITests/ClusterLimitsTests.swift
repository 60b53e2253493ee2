import Foundation
import MoonflowModel
import MoonflowTestSupport
import Testing

/// Limits and schedules across three `moonflow serve` processes on one database
/// (docs/scale-out.md): `max_workflows` is counted in the database, and a schedule tick starts
/// one run however many processes fire it.
extension ClusterTests {
    static let limited = """
        workflow: limited
        concurrency: {max_workflows: 2}
        activities:
          - {name: body, run: "test.ledger('ran') local x = 0 for i = 1, 3000000 do x = x + i end return x"}
        """
    static let tick = """
        workflow: tick
        trigger: {schedule: "* * * * *"}
        activities:
          - {name: once, run: "test.ledger('tick') return 1"}
        """

    @Test func limitsAndScheduleTicksHoldAcrossTheProcesses() async throws {
        let cluster = try await PostgresCluster.shared()
        let project = FileManager.default.temporaryDirectory.appendingPathComponent("moonflow-cluster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: project) }
        let ledger = project.appendingPathComponent("ledger.jsonl")
        let database = try await Self.writeProject(at: project, cluster: cluster, workflows: ["limited": Self.limited, "tick": Self.tick])
        var servers: [(process: Process, port: Int)] = []
        defer { for server in servers where server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        // A server that is up before the others can tick a boundary passed while they start: the
        // boundaries passed since the first start bound the ticks from above, those since all are
        // up from below.
        let startingAt = Date()
        servers = try await Self.startServers(project: project, cluster: cluster, ledger: ledger)
        let upAt = Date()

        // Eighteen runs started at once, six on each process: at most two bodies at a time.
        let ports = servers.map(\.port)
        let codes = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<18 { group.addTask { try await Self.start("limited", runID: "l\(index)", port: ports[index % 3]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(codes.allSatisfy { $0 == 201 }, "\(codes)")
        let deadline = Date().addingTimeInterval(90)
        var completed = 0
        while Date() < deadline, completed < 18 {
            try await Task.sleep(for: .milliseconds(250))
            completed = try await Self.count("SELECT count(*) FROM runs WHERE workflow = 'limited' AND status = 'completed'", cluster, database)
        }
        let unfinished = try await cluster.psql("SELECT id, status, owner FROM runs WHERE workflow = 'limited' AND status <> 'completed'", database: database)
        #expect(completed == 18, "\(unfinished)")
        // Each body from its `activity.started` to its `activity.completed` (written before the
        // script starts and after it ended): never more than two overlap.
        let spans = try await cluster.psql(
            """
            SELECT min(at) FILTER (WHERE type = 'activity.started') || ' ' || max(at) FILTER (WHERE type = 'activity.completed')
            FROM journal WHERE run_id LIKE 'l%' AND activity = 'body' GROUP BY run_id
            """, database: database
        ).split(separator: "\n").compactMap { line -> (Int64, Int64)? in
            let parts = line.split(separator: " ").compactMap { Int64($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        #expect(spans.count == 18)
        let most = spans.map { span in spans.count { $0.0 <= span.0 && $0.1 > span.0 } }.max() ?? 0
        let queued = try await Self.count("SELECT count(*) FROM journal WHERE run_id LIKE 'l%' AND type = 'run.queued' AND event LIKE '%\"queue\"%'", cluster, database)
        print("cluster limits: at most \(most) bodies at once; \(queued) runs queued")
        #expect(most <= 2)
        #expect(most == 2)
        #expect(queued > 0)

        // The schedule: one run per minute boundary passed since the servers came up, each tick's
        // activity ran once.
        let next = (upAt.timeIntervalSince1970 / 60).rounded(.up) * 60
        let waitUntil = Date(timeIntervalSince1970: next + 8)
        if waitUntil > Date() { try await Task.sleep(for: .seconds(waitUntil.timeIntervalSinceNow)) }
        let minute = (Date().timeIntervalSince1970 / 60).rounded(.down)
        let boundaries = Int(minute - (upAt.timeIntervalSince1970 / 60).rounded(.down))
        let boundariesSinceStarting = Int(minute - (startingAt.timeIntervalSince1970 / 60).rounded(.down))
        let ticks = try await Self.count("SELECT count(*) FROM runs WHERE workflow = 'tick'", cluster, database)
        let tickCompleted = try await Self.count("SELECT count(*) FROM runs WHERE workflow = 'tick' AND status = 'completed'", cluster, database)
        let lines = String(decoding: (try? Data(contentsOf: ledger)) ?? Data(), as: UTF8.self).split(separator: "\n")
        let ran = try lines.map { try Value(json: String($0)) }.filter { ($0["run"]?.stringValue ?? "").hasPrefix("@schedule:tick:") }
        #expect(boundaries >= 1)
        #expect(ticks >= boundaries && ticks <= boundariesSinceStarting, "\(ticks) ticks, \(boundaries)–\(boundariesSinceStarting) boundaries")
        #expect(tickCompleted == ticks)
        #expect(ran.count == ticks)
    }

    static func count(_ query: String, _ cluster: PostgresCluster, _ database: String) async throws -> Int {
        Int(try await cluster.psql(query, database: database).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}

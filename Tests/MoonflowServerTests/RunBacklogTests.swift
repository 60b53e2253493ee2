import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import Testing

@testable import MoonflowServer

/// Back-pressure (docs/api.md, "Back-pressure"): runs started and not yet driven form a bounded
/// backlog (`server.run_backlog`); beyond it a start is refused with 503 and `Retry-After`, and
/// once the backlog drains starts are taken again. Nothing admitted is lost.
@Suite("The run backlog")
struct RunBacklogTests {
    /// One activity that fails, then sleeps in its fallback on the engine's clock: the drive stays
    /// in flight (and the run in the backlog) until the test advances the manual clock.
    static let held = """
        workflow: held
        trigger:
          event: hold.requested
        activities:
          - name: hold
            call: fail
            with: {message: held until the clock moves, retryable: false}
            fallback:
              call: sleep
              with: {duration: 1h}
        """

    @Test func aFullBacklogRefusesStartsWith503AndRetryAfterUntilItDrains() async throws {
        let project = try TestServer.project(["workflows/held.yaml": Self.held])
        defer { try? FileManager.default.removeItem(at: project) }
        let clock = ManualClock()
        var logger = TestServer.quietLogger
        logger.logLevel = .error  // the held activity's failure is expected
        let runtime = try TestServer.runtime(
            project: project, config: Tokens.config(adding: "server: {run_backlog: 2}"), clock: clock, logger: logger)
        try await TestServer.run(runtime: runtime, ServerOptions(port: 0, keepAlive: .milliseconds(200))) { client, core in
            #expect(core.dispatcher.backlogLimit == 2)
            var admitted: [String] = []
            for _ in 0..<2 {
                let start = try await client.post("/v1/runs", ["workflow": "held"])
                #expect(start.status == 201)
                admitted.append(try #require(start.json["run_id"]?.stringValue))
            }
            #expect(core.dispatcher.backlogCount == 2)

            // Both drives wait on the clock: the backlog is full.
            let refused = try await client.post("/v1/runs", ["workflow": "held"])
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"] == ["1"])
            #expect(refused.json["error"]?["type"] == "BacklogFull")
            #expect(refused.json["error"]?["details"]?["limit"] == 2)
            let event = try await client.post("/v1/events", ["type": "hold.requested", "payload": [:]])
            #expect(event.status == 503)
            #expect(event.json["error"]?["type"] == "BacklogFull")
            // Refused starts stored nothing.
            #expect(try await core.store.runs(status: nil).count == 2)
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains("moonflow_run_backlog 2"))
            #expect(metrics.split(separator: "\n").contains { $0.hasPrefix("moonflow_starts_refused_total ") && !$0.hasSuffix(" 0") })

            // The clock moves: the held runs complete, the backlog drains, starts are taken again.
            try await Self.drain(core, clock)
            #expect(core.dispatcher.backlogCount == 0)
            for id in admitted { #expect(try await client.get("/v1/runs/\(id)").json["status"] == "completed") }
            #expect(try await client.post("/v1/runs", ["workflow": "held"]).status == 201)
            #expect(try await client.post("/v1/events", ["type": "hold.requested", "payload": [:]]).status == 202)
            #expect(core.dispatcher.backlogCount == 2)
            // Let those end too: a graceful shutdown waits for the drives in flight.
            try await Self.drain(core, clock)
        }
    }

    /// Moves the clock on until every drive in flight has returned (at most 20 s).
    static func drain(_ core: ServerCore, _ clock: ManualClock) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while core.dispatcher.backlogCount > 0, ContinuousClock.now < deadline {
            clock.advance(by: .seconds(3600))
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func theBacklogDefaultsToAFewThousandRuns() throws {
        let project = try TestServer.project([:])
        defer { try? FileManager.default.removeItem(at: project) }
        let runtime = try TestServer.runtime(project: project)
        #expect(try #require(runtime.served).dispatcher.backlogLimit == EngineConfig.defaultRunBacklog)
        #expect(EngineConfig.defaultRunBacklog == 4096)
    }
}

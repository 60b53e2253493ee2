import Foundation
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import Testing

/// Operating and debugging runs through the API (docs/operations.md), on a real SQLite store:
/// breakpoints and steps, the operator actions a run detail offers, pause with a running timer,
/// redrive and rerun, logs and watched history.
@Suite("Operating runs through the HTTP API", .timeLimit(.minutes(2)))
struct OperateAPITests {
    static let files = [
        "workflows/steps.yaml": """
            workflow: steps
            context: {total: 0}
            activities:
              - name: a
                run: |
                  workflow.total = workflow.total + 1
                  log.warn("a warns")
                  return {n = 1}
              - name: b
                needs: [a]
                run: |
                  workflow.total = workflow.total + 10
                  return {n = 2}
              - name: c
                needs: [b]
                run: |
                  workflow.total = workflow.total + 100
                  return {n = 3}
            """,
        "workflows/nap.yaml": """
            workflow: nap
            activities:
              - name: nap
                call: sleep
                with: {duration: 8s}
              - name: after
                needs: [nap]
                run: return {done = true}
            """,
    ]

    /// Serves the project over a SQLite store in it.
    static func serve(_ body: @Sendable (Client) async throws -> Void) async throws {
        let root = try TestServer.project(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let runtime = try Runtime.make(
            RuntimeOptions(
                project: root, config: Tokens.config, store: .sqlite(path: root.appendingPathComponent("state.db").path),
                logger: TestServer.quietLogger, serving: ServingOptions()))
        try await TestServer.run(runtime: runtime, ServerOptions(port: 0, keepAlive: .milliseconds(200))) { client, _ in try await body(client) }
    }

    @Test func breakpointStepContinueAndTheActionsOfEachState() async throws {
        try await Self.serve { client in
            let start = try await client.post("/v1/runs", ["workflow": "steps", "debug": ["break_before": ["b"]]])
            #expect(start.status == 201, "\(start.text)")
            let id = try #require(start.json["run_id"]?.stringValue)
            var run = try await client.waitForStatus(id, ["paused"])
            #expect(run["actions"] == ["cancel", "terminate", "unpause", "continue"])
            // A caller without the operate permission is offered nothing (and may not read runs at all).
            #expect(try await client.get("/v1/runs/\(id)", token: Tokens.alice).status == 403)
            #expect(try await client.get("/v1/runs/\(id)/report").json["paused"] == ["reason": "breakpoint", "before": "b"])

            #expect(try await client.post("/v1/runs/\(id)/continue", ["step": true], token: Tokens.alice).status == 403)
            #expect(try await client.post("/v1/runs/\(id)/continue", ["step": true]).status == 200)
            run = try await client.waitForRun(id) { $0["activities"]?["b"] == "completed" && $0["status"] == "paused" }
            #expect(run["activities"]?["c"] == "pending")
            #expect(try await client.get("/v1/runs/\(id)/report").json["paused"] == ["reason": "step", "before": "c"])

            #expect(try await client.post("/v1/runs/\(id)/continue").status == 200)
            run = try await client.waitForStatus(id, ["completed"])
            #expect(run["actions"] == ["rerun"])
            let refused = try await client.post("/v1/runs/\(id)/redrive")
            #expect(refused.status == 409 && refused.json["error"]?["type"] == "Refused")
            #expect(try await client.post("/v1/runs/\(id)/continue").status == 409)

            let watched = try await client.get("/v1/runs/\(id)/history?watch=workflow.total").json["changes"]?.arrayValue ?? []
            #expect(watched.map { $0["after"] } == [0, 1, 11, 111])
            #expect(try await client.get("/v1/runs/\(id)/history?watch=nonsense").status == 400)
            let warnings = try await client.get("/v1/runs/\(id)/logs?level=warn").json["lines"]?.arrayValue ?? []
            #expect(warnings.map { $0["message"] } == ["a warns"])
            let ofC = try await client.get("/v1/runs/\(id)/logs?activity=c").json["lines"]?.arrayValue ?? []
            #expect(!ofC.isEmpty && ofC.allSatisfy { $0["activity"] == "c" })
            #expect(try await client.get("/v1/runs/\(id)/logs?level=loud").status == 400)

            let rerun = try await client.post("/v1/runs/\(id)/rerun", ["from": "c"])
            #expect(rerun.status == 201, "\(rerun.text)")
            let newID = try #require(rerun.json["run_id"]?.stringValue)
            #expect(rerun.json["rerun_of"] == .string(id))
            _ = try await client.waitForStatus(newID, ["completed"])
            #expect(try await client.get("/v1/runs/\(newID)/report").json["context"] == ["total": 111])
            #expect(try await client.post("/v1/runs/\(id)/rerun", ["from": "zz"]).status == 400)
            #expect(try await client.post("/v1/runs", ["workflow": "steps", "debug": ["break_before": ["zz"]]]).status == 400)
        }
    }

    @Test func aPausedRunsTimerFiresAtItsTimeAndNothingStartsUntilUnpause() async throws {
        try await Self.serve { client in
            let id = try #require(try await client.post("/v1/runs", ["workflow": "nap"]).json["run_id"]?.stringValue)
            var run = try await client.waitForStatus(id, ["waiting"])
            #expect(run["actions"] == ["cancel", "terminate", "pause"])
            // The pause must come while the 8 s sleep waits (a loaded machine took over 3 s to get here).
            let paused = try await client.post("/v1/runs/\(id)/pause")
            #expect(paused.status == 200 && paused.json["status"] == "paused", "\(paused.text)")
            // The timer fires (the sleep completes); the next activity does not start.
            run = try await client.waitForRun(id) { $0["activities"]?["nap"] == "completed" }
            #expect(run["status"] == "paused")
            #expect(run["activities"]?["after"] == "pending")
            #expect(try await client.post("/v1/runs/\(id)/pause").status == 200)
            #expect(try await client.post("/v1/runs/\(id)/unpause").status == 200)
            run = try await client.waitForStatus(id, ["completed"])
            #expect(run["activities"]?["after"] == "completed")
        }
    }
}

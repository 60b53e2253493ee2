import MoonflowModel
import Testing

@Suite("Auth (docs/api.md), monitoring and metrics")
struct AuthAndMetricsTests {
    @Test func tokensAndRoles() async throws {
        try await TestServer.run(Fixtures.project) { client in
            #expect(try await client.get("/health", token: nil).status == 200)
            #expect(try await client.get("/", token: nil).text.contains("<title>Moonflow</title>"))
            let missing = try await client.get("/v1/workflows", token: nil)
            #expect(missing.status == 401)
            #expect(missing.json["error"]?["type"] == "Unauthorized")
            #expect(try await client.get("/v1/workflows", token: "not-a-token-at-all").status == 401)
            #expect(try await client.get("/v1/workflows", token: Tokens.bob).status == 200)
            #expect(try await client.post("/v1/reload", token: Tokens.bob).status == 403)
            #expect(try await client.get("/metrics", token: Tokens.bob).status == 403)
            #expect(try await client.post("/v1/reload", token: Tokens.operator).status == 200)
        }
    }

    @Test func onlyAssigneesSeeAndCompleteTasks() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let run = try #require(try await client.post("/v1/runs", ["workflow": "approval"], token: Tokens.bob).json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(run, ["waiting"])
            let aliceTasks = try await client.get("/v1/tasks", token: Tokens.alice).json["tasks"]?.arrayValue ?? []
            let task = try #require(aliceTasks.first?["id"]?.stringValue)
            #expect(try await client.get("/v1/tasks", token: Tokens.bob).json["tasks"]?.arrayValue?.isEmpty == true)
            #expect(try await client.get("/v1/tasks/\(task)", token: Tokens.carol).status == 200)  // group tier2
            #expect(try await client.get("/v1/tasks/\(task)", token: Tokens.bob).status == 404)
            #expect(try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": true]], token: Tokens.bob).status == 404)
            // Operators see every task, and complete only their own.
            #expect(try await client.get("/v1/tasks/\(task)", token: Tokens.operator).status == 200)
            #expect(try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": true]], token: Tokens.operator).status == 403)

            let invalid = try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": "yes"]], token: Tokens.alice)
            #expect(invalid.status == 400)
            #expect(invalid.json["error"]?["type"] == "SchemaInvalid")
            let done = try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": true]], token: Tokens.alice)
            #expect(done.status == 200)
            #expect(done.json["run_status"] == "completed")
            let twice = try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": false]], token: Tokens.carol)
            #expect(twice.status == 409)
            #expect(twice.json["error"]?["type"] == "already_completed")
        }
    }

    @Test func monitoringAndMetrics() async throws {
        try await TestServer.run(Fixtures.project) { client in
            for workflow in ["hello", "guarded"] {
                let id = try #require(try await client.post("/v1/runs", ["workflow": .string(workflow)]).json["run_id"]?.stringValue)
                _ = try await client.waitForStatus(id, ["completed"])
            }
            let monitoring = try await client.get("/v1/monitoring", token: Tokens.alice).json
            #expect((monitoring["completed_today"]?.intValue ?? 0) >= 2)
            #expect(monitoring["breakers"]?.arrayValue?.first?["state"] == "closed")
            #expect(monitoring["bulkheads"]?.arrayValue?.first?["max_concurrent"] == 2)

            let metrics = try await client.get("/metrics", token: Tokens.operator)
            #expect(metrics.status == 200)
            for name in [
                "moonflow_runs_total", "moonflow_activity_duration_seconds_bucket", "moonflow_activity_attempts_total",
                "moonflow_circuit_state", "moonflow_bulkhead_in_use", "moonflow_queue_depth",
            ] {
                #expect(metrics.text.contains(name), "\(name) is missing")
            }
            #expect(metrics.text.contains("moonflow_runs_total{workflow=\"hello\",status=\"completed\"}"))
        }
    }

    @Test func insecureModeNeedsNoToken() async throws {
        try await TestServer.run(Fixtures.project, insecure: true) { client in
            let answer = try await client.get("/v1/workflows", token: nil)
            #expect(answer.status == 200)
        }
    }
}

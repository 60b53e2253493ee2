import MoonflowModel
import Testing

@Suite("Runs through the HTTP API")
struct RunAPITests {
    @Test func startGetReportHistory() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let start = try await client.post("/v1/runs", ["workflow": "hello", "input": ["name": "moon"]])
            #expect(start.status == 201)
            let id = try #require(start.json["run_id"]?.stringValue)
            let run = try await client.waitForStatus(id, ["completed"])
            #expect(run["status"] == "completed")
            #expect(run["version"] == "1")

            let report = try await client.get("/v1/runs/\(id)/report").json
            #expect(report["output"]?["greeting"] == "hello moon")
            #expect(report["activities"]?.arrayValue?.first?["status"] == "completed")

            let history = try await client.get("/v1/runs/\(id)/history").json
            let types = history["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(types.first == "run.queued")
            #expect(types.contains("activity.completed"))
            #expect(types.last == "run.completed")
        }
    }

    @Test func startIsIdempotentWithRunID() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let body: Value = ["workflow": "hello", "run_id": "order-42"]
            let first = try await client.post("/v1/runs", body)
            let second = try await client.post("/v1/runs", body)
            #expect(first.status == 201)
            #expect(second.status == 200)
            #expect(second.json["run_id"] == "order-42")
            #expect(second.json["created"] == false)
            let other = try await client.post("/v1/runs", ["workflow": "approval", "run_id": "order-42"])
            #expect(other.status == 409)
            let listed = try await client.get("/v1/runs?workflow=hello").json["runs"]?.arrayValue ?? []
            #expect(listed.count == 1)
        }
    }

    @Test func listPagesNewestFirst() async throws {
        try await TestServer.run(Fixtures.project) { client in
            var started: [String] = []
            for index in 0..<5 {
                let answer = try await client.post("/v1/runs", ["workflow": "hello", "run_id": .string("page-\(index)")])
                started.append(try #require(answer.json["run_id"]?.stringValue))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.get("/v1/runs?workflow=hello&limit=2" + (cursor.map { "&after=\($0)" } ?? "")).json
                let ids = page["runs"]?.arrayValue?.compactMap { $0["run_id"]?.stringValue } ?? []
                #expect(ids.count <= 2)
                seen += ids
                cursor = page["next"]?.stringValue
            } while cursor != nil
            #expect(seen == started.reversed())
            #expect(try await client.get("/v1/runs?limit=0").status == 400)
            #expect(try await client.get("/v1/runs?status=nonsense").status == 400)
        }
    }

    @Test func cancelAndTerminateAWaitingRun() async throws {
        try await TestServer.run(Fixtures.project) { client in
            for action in ["cancel", "terminate"] {
                let id = try #require(try await client.post("/v1/runs", ["workflow": "approval"]).json["run_id"]?.stringValue)
                _ = try await client.waitForStatus(id, ["waiting"])
                #expect(try await client.post("/v1/runs/\(id)/\(action)", token: Tokens.alice).status == 403)
                let stopped = try await client.post("/v1/runs/\(id)/\(action)", token: Tokens.operator)
                #expect(stopped.status == 200)
                #expect(stopped.json["status"] == (action == "cancel" ? "cancelled" : "terminated"))
            }
            #expect(try await client.post("/v1/runs/nope/cancel").status == 404)
        }
    }

    @Test func runsBeyondMaxWorkflowsWaitTheirTurnAndTheDispatcherDrivesThem() async throws {
        let files = [
            "workflows/one_at_a_time.yaml": """
                workflow: one_at_a_time
                concurrency: {max_workflows: 1, queuing: {strategy: priority}}
                activities:
                  - name: work
                    run: |
                      local n = 0
                      for i = 1, 200000 do n = n + i end
                      return {n = n}
                """
        ]
        try await TestServer.run(files) { client in
            #expect(try await client.post("/v1/runs", ["workflow": "one_at_a_time", "priority": "urgent"]).status == 400)
            var ids: [String] = []
            for (index, priority) in [Value.string("normal"), .int(-5), .string("high")].enumerated() {
                let answer = try await client.post("/v1/runs", ["workflow": "one_at_a_time", "run_id": .string("q\(index)"), "priority": priority])
                #expect(answer.status == 201)
                ids.append(try #require(answer.json["run_id"]?.stringValue))
            }
            var spans: [(start: Int64, end: Int64)] = []
            for id in ids {
                _ = try await client.waitForStatus(id, ["completed"])
                let events = try await client.get("/v1/runs/\(id)/history").json["events"]?.arrayValue ?? []
                let at = { (type: String) in events.first { $0["type"]?.stringValue == type }?["at"]?.intValue }
                spans.append((try #require(at("run.started")), try #require(at("run.completed"))))
            }
            // Never two at once: sorted by start, each starts after the previous one completed.
            let ordered = spans.sorted { $0.start < $1.start }
            for (earlier, later) in zip(ordered, ordered.dropFirst()) { #expect(earlier.end <= later.start) }
        }
    }

    @Test func unknownWorkflowAndInvalidInput() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let unknown = try await client.post("/v1/runs", ["workflow": "nope"])
            #expect(unknown.status == 404)
            #expect(unknown.json["error"]?["type"] == "NotFound")
            let invalid = try await client.post("/v1/runs", ["workflow": "hello", "input": ["name": 5]])
            #expect(invalid.status == 400)
            #expect(invalid.json["error"]?["type"] == "SchemaInvalid")
        }
    }
}

import MoonflowModel
import Testing

/// Issue 13 item 1: a script's `log.*` calls are in the run's history through the API.
@Suite("Script logs through the HTTP API")
struct ScriptLogAPITests {
    @Test func theHistoryHoldsTheScriptsLogEntries() async throws {
        let files = [
            "workflows/chatty.yaml": """
                workflow: chatty
                activities:
                  - name: talk
                    run: |
                      log.info("hello", {order = "o-1"})
                      return 1
                """
        ]
        try await TestServer.run(files) { client in
            let start = try await client.post("/v1/runs", ["workflow": "chatty"])
            let id = try #require(start.json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(id, ["completed"])
            let events = try await client.get("/v1/runs/\(id)/history").json["events"]?.arrayValue ?? []
            let logs = events.filter { $0["type"] == "activity.log" }
            #expect(logs.count == 1)
            #expect(logs.first?["activity"] == "talk")
            #expect(logs.first?["attempt"] == 1)
            #expect(logs.first?["data"] == ["level": "info", "message": "hello", "fields": ["order": "o-1"]])
        }
    }
}

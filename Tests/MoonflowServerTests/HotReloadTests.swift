import Foundation
import MoonflowEngine
import MoonflowModel
import MoonflowRuntime
import MoonflowServer
import Testing

@Suite("Hot reload (docs/reload.md)")
struct HotReloadTests {
    @Test func runsStayOnTheirVersionWhileNewRunsGetTheNewOne() async throws {
        let root = try TestServer.project(Fixtures.project)
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("workflows/approval.yaml")
        try await TestServer.run(project: root) { client in
            let v1Hash = try #require(try await client.get("/v1/workflows/approval").json["hash"]?.stringValue)
            let old = try #require(try await client.post("/v1/runs", ["workflow": "approval"]).json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(old, ["waiting"])

            // The editor's way: write a temporary file, rename it over the original.
            let temporary = root.appendingPathComponent("workflows/.approval.yaml.swp")
            try Fixtures.approval(version: "2").write(to: temporary, atomically: false, encoding: .utf8)
            #expect(rename(temporary.path, file.path) == 0)
            let v2Hash = try await waitForHash(client, not: v1Hash)
            let versions = try await client.get("/v1/workflows/approval").json["versions"]?.arrayValue ?? []
            #expect(versions.count == 2)

            let new = try #require(try await client.post("/v1/runs", ["workflow": "approval"]).json["run_id"]?.stringValue)
            let newRun = try await client.waitForStatus(new, ["waiting"])
            #expect(newRun["definition_hash"] == .string(v2Hash))
            #expect(newRun["version"] == "2")

            let task = try #require(try await openTask(client, run: old))
            let done = try await client.post("/v1/tasks/\(task)/complete", ["data": ["approved": true]], token: Tokens.alice)
            #expect(done.status == 200)
            let report = try await client.get("/v1/runs/\(old)/report").json
            #expect(report["status"] == "completed")
            #expect(report["definition_hash"] == .string(v1Hash))
            #expect(report["output"]?["version"] == "1")
        }
    }

    @Test func anInvalidEditKeepsTheOldVersionAndShowsWhere() async throws {
        let root = try TestServer.project(Fixtures.project)
        defer { try? FileManager.default.removeItem(at: root) }
        try await TestServer.run(project: root) { client in
            let hash = try #require(try await client.get("/v1/workflows/hello").json["hash"]?.stringValue)
            try Fixtures.hello.replacingOccurrences(of: "  - name: greet", with: "  - name: greet\n    retries: 3")
                .write(to: root.appendingPathComponent("workflows/hello.yaml"), atomically: true, encoding: .utf8)
            var errors: [Value] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while errors.isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                errors = try await client.get("/v1/workflows/hello").json["errors"]?.arrayValue ?? []
            }
            let text = try #require(errors.first?["text"]?.stringValue)
            #expect(text.hasPrefix("workflows/hello.yaml:9:5: error["))
            #expect(try await client.get("/v1/workflows/hello").json["hash"] == .string(hash))
            let reload = try await client.post("/v1/reload", token: Tokens.operator)
            #expect(reload.status == 422)
            #expect(reload.json["error"]?["details"]?["errors"]?.arrayValue?.isEmpty == false)
            // Still serving v1.
            let id = try #require(try await client.post("/v1/runs", ["workflow": "hello"]).json["run_id"]?.stringValue)
            #expect(try await client.waitForStatus(id, ["completed"])["definition_hash"] == .string(hash))
        }
    }

    /// What each `POST /v1/reload` answers is asserted, so nothing else may reload in between: the
    /// file watcher, which would see the deleted workflow first (its 50 ms poll and 100 ms
    /// debounce are short beside a loaded machine's pause between two statements) and leave the
    /// request nothing `removed`. It does not run here, so only the requests reload.
    @Test func identicalContentMakesNoVersionAndADeletedWorkflowRefusesNewRuns() async throws {
        let root = try TestServer.project(Fixtures.project)
        defer { try? FileManager.default.removeItem(at: root) }
        let runtime = try Runtime.make(
            RuntimeOptions(
                project: root, config: Tokens.config, store: .existing(InMemoryRunStore()), logger: TestServer.quietLogger,
                serving: ServingOptions(watchesFiles: false)))
        try await TestServer.run(runtime: runtime, ServerOptions(port: 0, keepAlive: .milliseconds(200))) { client, _ in
            try Fixtures.hello.write(to: root.appendingPathComponent("workflows/hello.yaml"), atomically: true, encoding: .utf8)
            let reload = try await client.post("/v1/reload", token: Tokens.operator)
            #expect(reload.json["status"] == "unchanged")
            #expect(try await client.get("/v1/workflows/hello").json["versions"]?.arrayValue?.count == 1)

            try FileManager.default.removeItem(at: root.appendingPathComponent("workflows/hello.yaml"))
            #expect(try await client.post("/v1/reload", token: Tokens.admin).json["removed"] == ["hello"])
            #expect(try await client.post("/v1/runs", ["workflow": "hello"]).status == 404)
            #expect(try await client.get("/v1/workflows/hello").json["deleted"] == true)
        }
    }

    private func waitForHash(_ client: Client, not old: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let hash = try await client.get("/v1/workflows/approval").json["hash"]?.stringValue, hash != old { return hash }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the new version never served")
        return old
    }

    private func openTask(_ client: Client, run: String) async throws -> String? {
        let tasks = try await client.get("/v1/tasks", token: Tokens.alice).json["tasks"]?.arrayValue ?? []
        return tasks.first { $0["run_id"] == .string(run) }?["id"]?.stringValue
    }
}

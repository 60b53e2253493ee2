import AsyncHTTPClient
import Foundation
import MoonflowEngine
import MoonflowModel
import NIOCore
import Testing

@testable import MoonflowServer

/// Issue 12, item 10: a task a user may not see (404 on `/v1/tasks/ID`) must not be readable
/// through its run's report, history or the event stream, and a task's token is never shown —
/// only its digest is kept.
@Suite("Task confidentiality: runs.read, and task tokens kept as digests", .timeLimit(.minutes(1)))
struct TaskConfidentialityTests {
    @Test func usersReadNoRunDetails() async throws {
        try await TestServer.run(Fixtures.project) { client in
            // bob starts the approval; its task is alice's (and group tier2's), not bob's.
            let run = try #require(try await client.post("/v1/runs", ["workflow": "approval"], token: Tokens.bob).json["run_id"]?.stringValue)
            _ = try await client.waitForStatus(run, ["waiting"])
            let task = try #require(try await client.get("/v1/tasks", token: Tokens.alice).json["tasks"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(try await client.get("/v1/tasks/\(task)", token: Tokens.bob).status == 404)

            // No user role reads run details (runs.read): not bob, and not alice either — her
            // task she reads through /v1/tasks.
            for token in [Tokens.bob, Tokens.alice] {
                for path in ["/v1/runs", "/v1/runs/\(run)", "/v1/runs/\(run)/report", "/v1/runs/\(run)/history", "/v1/events/stream"] {
                    let answer = try await client.get(path, token: token)
                    #expect(answer.status == 403, "\(path)")
                    #expect(answer.json["error"]?["type"] == "Forbidden", "\(path)")
                    #expect(!answer.text.contains(task), "\(path)")
                }
            }
            // Operators and admins do (they see every task anyway).
            #expect(try await client.get("/v1/runs/\(run)/report", token: Tokens.operator).status == 200)
            #expect(try await client.get("/v1/runs/\(run)/history", token: Tokens.operator).status == 200)
        }
    }

    @Test func theTokenIsNeverShown() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let stream = try await Self.openStream(client, token: Tokens.admin)
            var chunks = stream.body.makeAsyncIterator()
            _ = try await chunks.next()
            let run = try #require(try await client.post("/v1/runs", ["workflow": "approval"]).json["run_id"]?.stringValue)
            let streamed = try await EventAndStreamTests.read(&chunks, until: "event: task.created")
            _ = try await client.waitForStatus(run, ["waiting"])
            let history = try await client.get("/v1/runs/\(run)/history").json
            let created = try #require(history["events"]?.arrayValue?.first { $0["type"] == "task.created" })
            #expect(created["data"]?["token"] == nil)
            let digest = try #require(created["data"]?["token_sha256"]?.stringValue)
            #expect(digest.count == 64)
            #expect(!streamed.contains("\"token\""))
            let report = try await client.get("/v1/runs/\(run)/report")
            #expect(!report.text.contains("\"token\""))
            let task = try await client.get("/v1/tasks").json["tasks"]?.arrayValue?.first
            #expect(task?["token"] == nil)
        }
    }

    /// A journal written before tokens were kept as digests still holds one: the API leaves it out,
    /// and the state keeps its digest only.
    @Test func anOldJournalsTokenIsLeftOut() throws {
        let token = TaskToken.generate()
        // A row of the first journal format (no `format` member), as a build of that time stored it.
        let event = try RunEvent(
            journalValue: [
                "type": "task.created", "run_id": "r", "workflow": "w", "activity": "approve", "attempt": 1, "at": 0,
                "data": ["id": "r:approve:1", "users": [], "groups": [], "token": .string(token), "form": nil, "due": nil, "reminders": []],
            ])
        #expect(event.apiValue["data"]?["token"] == nil)
        #expect(!event.apiValue.jsonString().contains(token))
        var state = try #require(
            RunState(
                queuedBy: RunEvent(
                    .runQueued(QueuedRun(definitionHash: "", input: [:], activities: ["approve"])), runID: "r", workflow: "w",
                    at: Timestamp(nanosecondsSinceEpoch: 0))))
        state.apply(event)
        let record = try #require(state.tasks["r:approve:1"])
        #expect(record.tokenDigest == TaskToken.digest(of: token))
        #expect(record.hasToken(token))
        #expect(!record.hasToken(TaskToken.generate()))
    }

    static func openStream(_ client: Client, token: String) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: client.base + "/v1/events/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    }
}

import AsyncHTTPClient
import Foundation
import MoonflowModel
import NIOCore
import Testing

@Suite("Events: triggers, dedupe, the live stream", .timeLimit(.minutes(1)))
struct EventAndStreamTests {
    @Test func eventsStartRunsWhenConditionsAndWhenHold() async throws {
        try await TestServer.run(Fixtures.project) { client in
            func post(_ payload: Value, id: String? = nil) async throws -> [Value] {
                var body: Value = ["type": "ticket:created", "payload": payload]
                if let id, case .object(var object) = body {
                    object["id"] = .string(id)
                    body = .object(object)
                }
                let answer = try await client.post("/v1/events", body, token: Tokens.alice)
                #expect(answer.status == 202)
                return answer.json["runs"]?.arrayValue ?? []
            }
            let started = try await post(["id": "T-1", "priority": "high", "tier": "gold"])
            #expect(started.count == 1)
            #expect(started.first?["workflow"] == "ticket")
            let id = try #require(started.first?["run_id"]?.stringValue)
            let report = try await client.waitForStatus(id, ["completed"])
            #expect(report["status"] == "completed")
            #expect(try await client.get("/v1/runs/\(id)/report").json["output"]?["ticket"] == "T-1")

            #expect(try await post(["id": "T-2", "priority": "low", "tier": "gold"]).isEmpty)  // conditions
            #expect(try await post(["id": "T-3", "priority": "urgent", "tier": "free"]).isEmpty)  // when
            // The same dedupe key starts nothing new.
            let again = try await post(["id": "T-1", "priority": "high", "tier": "gold"])
            #expect(again.allSatisfy { $0["created"] == false })
            #expect(try await client.get("/v1/runs?workflow=ticket").json["runs"]?.arrayValue?.count == 1)
        }
    }

    @Test func theStreamCarriesLifecycleEvents() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let response = try await Self.openStream(client, "?type=run.")
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "content-type") == "text/event-stream")
            var chunks = response.body.makeAsyncIterator()
            _ = try await chunks.next()  // the opening comment: the subscription is in place
            let id = try #require(try await client.post("/v1/runs", ["workflow": "hello"]).json["run_id"]?.stringValue)
            let text = try await Self.read(&chunks, until: "event: run.completed")
            #expect(text.contains("event: run.started"))
            #expect(text.contains("event: run.completed\ndata: {\"type\":\"run.completed\",\"run_id\":\"\(id)\""))
            #expect(!text.contains("activity."))
        }
    }

    @Test func anIdleStreamSendsKeepAliveComments() async throws {
        try await TestServer.run(Fixtures.project) { client in
            var chunks = try await Self.openStream(client).body.makeAsyncIterator()
            let text = try await Self.read(&chunks, until: ": keep-alive\n\n")
            #expect(text.hasPrefix(": moonflow event stream\n\n"))
            #expect(text.contains(": keep-alive\n\n"))
        }
    }

    /// Opens `GET /v1/events/stream` (with `query`) as an operator (users lack `runs.read`).
    static func openStream(_ client: Client, _ query: String = "") async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: client.base + "/v1/events/stream" + query)
        request.headers.add(name: "Authorization", value: "Bearer \(Tokens.operator)")
        return try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    }

    /// The stream's text up to the chunk that contains `marker` (or its end).
    static func read(_ chunks: inout HTTPClientResponse.Body.AsyncIterator, until marker: String) async throws -> String {
        var text = ""
        while !text.contains(marker), let chunk = try await chunks.next() { text += String(buffer: chunk) }
        return text
    }
}

import Foundation
import Logging
import MoonflowModel
import Testing

@testable import MoonflowServer

/// Issue 13, item 13: every `{id}` in a path is percent-decoded, whatever characters are encoded
/// (`GET /v1/runs/hello%2D1` is the run `hello-1`).
@Suite("Ids in paths are percent-decoded on every route", .timeLimit(.minutes(1)))
struct PathParameterTests {
    /// Every byte as `%XX`: the strictest form a client may send.
    static func encodedFully(_ id: String) -> String { id.utf8.map { String(format: "%%%02X", $0) }.joined() }

    /// Each route with an id, what a request of it sends, and the field of the answer naming the id.
    struct Case: Sendable {
        var route: String
        var method: String
        var path: String
        var body: Value?
        /// `nil`: the answer is an error (the status says the run was found, not 404).
        var field: String?
        var id: String
        /// Tasks are completed by an assignee.
        var token = Tokens.admin
        var status = 200
    }

    static let cases: [Case] = [
        Case(route: "GET /v1/workflows/{id}", method: "GET", path: "/v1/workflows/{}", field: "id", id: "hello"),
        Case(route: "GET /v1/runs/{id}", method: "GET", path: "/v1/runs/{}", field: "run_id", id: "hello-1"),
        Case(route: "GET /v1/runs/{id}/report", method: "GET", path: "/v1/runs/{}/report", field: "run_id", id: "hello-1"),
        Case(route: "GET /v1/runs/{id}/history", method: "GET", path: "/v1/runs/{}/history", field: "run_id", id: "hello-1"),
        Case(route: "GET /v1/tasks/{id}", method: "GET", path: "/v1/tasks/{}", field: "id", id: "approval-1:approve:1"),
        Case(
            route: "POST /v1/tasks/{id}/complete", method: "POST", path: "/v1/tasks/{}/complete", body: ["data": ["approved": true]],
            field: "task_id", id: "approval-1:approve:1", token: Tokens.alice),
        Case(route: "POST /v1/runs/{id}/cancel", method: "POST", path: "/v1/runs/{}/cancel", field: "run_id", id: "approval-2"),
        Case(route: "POST /v1/runs/{id}/terminate", method: "POST", path: "/v1/runs/{}/terminate", field: "run_id", id: "approval-3"),
        Case(route: "GET /v1/runs/{id}/logs", method: "GET", path: "/v1/runs/{}/logs", field: "run_id", id: "hello-1"),
        Case(
            route: "POST /v1/runs/{id}/rerun", method: "POST", path: "/v1/runs/{}/rerun", body: ["from": "greet"], field: "rerun_of",
            id: "hello-1", status: 201),
        Case(route: "POST /v1/runs/{id}/redrive", method: "POST", path: "/v1/runs/{}/redrive", field: "run_id", id: "approval-2"),
        Case(
            route: "POST /v1/runs/{id}/resume-compensation", method: "POST", path: "/v1/runs/{}/resume-compensation", field: nil,
            id: "hello-1", status: 409),
        Case(route: "POST /v1/runs/{id}/pause", method: "POST", path: "/v1/runs/{}/pause", field: "run_id", id: "approval-4"),
        Case(route: "POST /v1/runs/{id}/continue", method: "POST", path: "/v1/runs/{}/continue", field: "run_id", id: "approval-4"),
        Case(route: "POST /v1/runs/{id}/pause", method: "POST", path: "/v1/runs/{}/pause", field: "run_id", id: "approval-5"),
        Case(route: "POST /v1/runs/{id}/unpause", method: "POST", path: "/v1/runs/{}/unpause", field: "run_id", id: "approval-5"),
    ]

    @Test func everyRouteWithAnIDHasACase() throws {
        let router = try TestServer.router()
        let withID = Set(router.routes.filter { $0.method != .head && "\($0.path)".contains("{id}") }.map { "\($0.method) \($0.path)" })
        #expect(
            withID == Set(Self.cases.map(\.route)).union(Self.testedApart),
            "a route with an {id} needs a case here (and `context.pathID()`)")
    }

    /// Routes whose ids need a project of their own, each with its test below.
    static let testedApart: Set<String> = [
        "GET /v1/dead-letters/{id}", "POST /v1/dead-letters/{id}/redrive", "POST /v1/dead-letters/{id}/discard",
    ]

    @Test func deadLetterIDsAreDecoded() async throws {
        try await TestServer.run(DeadLetterAPITests.files) { client in
            let event: Value = ["type": "order:placed", "id": "evt-1", "payload": ["amount": "ten"]]
            let posted = try await client.post("/v1/events", event, token: Tokens.alice)
            let id = try #require(posted.json["rejected"]?.arrayValue?.first?["dead_letter_id"]?.stringValue)
            let answer = try await client.get("/v1/dead-letters/\(Self.encodedFully(id))")
            #expect(answer.status == 200, "\(answer.text.prefix(300))")
            #expect(answer.json["id"] == .string(id))
            // Found (still refused: 409, not 404), then discarded.
            #expect(try await client.post("/v1/dead-letters/\(Self.encodedFully(id))/redrive").status == 409)
            let discarded = try await client.post("/v1/dead-letters/\(Self.encodedFully(id))/discard")
            #expect(discarded.status == 200 && discarded.json["id"] == .string(id), "\(discarded.text.prefix(300))")
        }
    }

    @Test func everyIDIsDecoded() async throws {
        try await TestServer.run(Fixtures.project) { client in
            #expect(try await client.post("/v1/runs", ["workflow": "hello", "run_id": "hello-1"]).status == 201)
            _ = try await client.waitForStatus("hello-1", ["completed"])
            for id in ["approval-1", "approval-2", "approval-3", "approval-4", "approval-5"] {
                #expect(try await client.post("/v1/runs", ["workflow": "approval", "run_id": .string(id)]).status == 201)
                _ = try await client.waitForStatus(id, ["waiting"])
            }
            for test in Self.cases {
                let path = test.path.replacingOccurrences(of: "{}", with: Self.encodedFully(test.id))
                let answer = try await client.send(.init(rawValue: test.method), path, token: test.token, body: test.body?.jsonString())
                #expect(answer.status == test.status, "\(test.route): \(path) → \(answer.status) \(answer.text.prefix(300))")
                if let field = test.field { #expect(answer.json[field] == .string(test.id), "\(test.route)") }
            }
        }
    }

    @Test func anIDThatIsNotValidPercentEncodingIsA400() async throws {
        try await TestServer.run(Fixtures.project) { client in
            // A raw request: an HTTP client library may re-encode the path.
            let answer = try await RawConnection.request(
                port: client.port, "GET", "/v1/workflows/%FF%FE",
                headers: [("Host", "127.0.0.1:\(client.port)"), ("Authorization", "Bearer \(Tokens.admin)")])
            #expect(answer.status == 400)
            #expect((try? Value(json: answer.text))?["error"]?["details"]?["path"] == "path.id")
        }
    }
}

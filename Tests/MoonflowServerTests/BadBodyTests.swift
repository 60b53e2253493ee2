import MoonflowModel
import Testing

@Suite("Bad request bodies are 400 with the field path, never 500")
struct BadBodyTests {
    struct Case: Sendable, CustomStringConvertible {
        var path: String
        var body: String
        var field: String
        var description: String { "\(path) \(body.prefix(40))" }
    }

    static let cases: [Case] = [
        Case(path: "/v1/runs", body: "{\"workflow\": \"hello\",", field: "$"),
        Case(path: "/v1/runs", body: "[1, 2]", field: "$"),
        Case(path: "/v1/runs", body: "{\"workflow\": 5}", field: "$.workflow"),
        Case(path: "/v1/runs", body: "{\"workflow\": \"hello\", \"input\": [1]}", field: "$.input"),
        Case(path: "/v1/runs", body: "{\"workflow\": \"hello\", \"inputs\": {}}", field: "$.inputs"),
        Case(path: "/v1/runs", body: "{}", field: "$.workflow"),
        Case(path: "/v1/runs", body: "{\"workflow\": \"hello\", \"run_id\": true}", field: "$.run_id"),
        Case(path: "/v1/events", body: "{\"type\": [\"x\"]}", field: "$.type"),
        Case(path: "/v1/events", body: "{\"type\": \"run.completed\"}", field: "$.type"),
        Case(path: "/v1/events", body: "{\"type\": \"x\", \"payload\": \"text\"}", field: "$.payload"),
        Case(path: "/v1/events", body: "{\"type\": \"x\", \"payload\": {}, \"extra\": 1}", field: "$.extra"),
        Case(path: "/v1/runs", body: "{\"workflow\": \"" + String(repeating: "a", count: 2 << 20) + "\"}", field: "$"),
    ]

    /// One server for every case: starting one per case would only test start-up again.
    @Test func refused() async throws {
        try await TestServer.run(Fixtures.project) { client in
            for bad in Self.cases {
                let answer = try await client.send(.POST, bad.path, body: bad.body)
                #expect(answer.status == 400, "\(bad)")
                #expect(answer.json["error"]?["type"] == "BadRequest", "\(bad)")
                #expect(answer.json["error"]?["details"]?["path"] == .string(bad.field), "\(bad)")
            }
            #expect(try await client.get("/v1/runs?workflow=hello").json["runs"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func invalidJSONSaysWhere() async throws {
        try await TestServer.run(Fixtures.project) { client in
            let answer = try await client.send(.POST, "/v1/runs", body: "{\n  \"workflow\": hello\n}")
            #expect(answer.json["error"]?["details"]?["line"] == 2)
        }
    }
}

import AsyncHTTPClient
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

/// Security issue 12, item 8: request bodies whose validation would backtrack forever are refused
/// within a bound, naming the field, and never stall other requests. The pattern is one the
/// loader's nested-repetition check lets through (`^(a+)+$` is refused at load): overlapping
/// alternatives backtrack just as badly, and only the time budget stops them.
@Suite struct RegexBudgetTests {
    @Test func catastrophicPatternsNeverStallOtherRequests() async throws {
        let files = [
            "workflows/greet.yaml": """
                workflow: greet
                input:
                  type: object
                  properties:
                    name: {type: string, pattern: "^(a|a)+$"}
                activities: [{name: a, call: noop}]
                """
        ]
        try await TestServer.run(files) { client in
            let evil: Value = ["workflow": "greet", "input": ["name": .string(String(repeating: "a", count: 31) + "!")]]
            let health = try await withThrowingTaskGroup(of: (Answer, Duration)?.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let answer = try await client.post("/v1/runs", evil)
                        #expect(answer.status == 400)
                        #expect(answer.json["error"]?["type"] == "SchemaInvalid")
                        #expect(answer.text.contains("name: took too long"), "\(answer.text)")
                        return nil
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(100))
                    // Its own connection: the shared client's pool would queue it behind the others.
                    let own = HTTPClient(eventLoopGroupProvider: .singleton)
                    let start = ContinuousClock.now
                    let response = try? await own.execute(HTTPClientRequest(url: client.base + "/health"), timeout: .seconds(60))
                    let elapsed = ContinuousClock.now - start
                    try await own.shutdown()
                    return (Answer(status: Int(response?.status.code ?? 0), text: ""), elapsed)
                }
                var health: (Answer, Duration)?
                for try await result in group where result != nil { health = result }
                return health
            }
            let (answer, elapsed) = try #require(health)
            #expect(answer.status == 200)
            // Unbounded, one of these patterns runs for minutes; bounded (25 ms of matching per
            // validation), the 30 of them cost under a second of CPU: the bound leaves room for a
            // loaded machine and still fails on a pattern that is not cut short.
            #expect(elapsed < .seconds(5), "GET /health took \(elapsed) while 30 bad bodies were validated")
        }
    }
}

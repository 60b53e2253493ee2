import Foundation
import MoonflowModel
import Testing

/// Issue 13 item 12: an event that one of several matching workflows refuses (input schema) starts
/// the others; the refusal is kept as a dead letter (`GET /v1/dead-letters`) with the event and the
/// errors, and announced on the event stream.
@Suite("Dead letters: events a workflow refused", .timeLimit(.minutes(1)))
struct DeadLetterAPITests {
    static let files: [String: String] = [
        "workflows/record.yaml": """
            workflow: record
            trigger: {event: "order:placed"}
            activities:
              - {name: a, run: "return input"}
            """,
        "workflows/charge.yaml": """
            workflow: charge
            version: "2"
            trigger: {event: "order:placed"}
            input:
              type: object
              required: [amount]
              properties: {amount: {type: integer}}
            activities:
              - {name: a, run: "return input.amount"}
            """,
        "workflows/refund.yaml": """
            workflow: refund
            trigger: {event: "refund.requested"}
            input:
              type: object
              required: [amount]
              properties: {amount: {type: integer}}
            activities:
              - {name: a, run: "return input.amount"}
            """,
        "workflows/emitter.yaml": """
            workflow: emitter
            activities:
              - {name: a, run: "emit('refund.requested', {amount = 'all of it'}) return 1"}
            """,
    ]

    @Test func oneWorkflowRefusesTheOthersStartAndTheRefusalIsKept() async throws {
        try await TestServer.run(Self.files) { client in
            let event: Value = ["type": "order:placed", "id": "evt-1", "payload": ["amount": "ten"]]
            let answer = try await client.post("/v1/events", event, token: Tokens.alice)
            #expect(answer.status == 202, "\(answer.text)")
            let started = try #require(answer.json["started"]?.arrayValue)
            #expect(started.map { $0["workflow"] } == ["record"])
            #expect(started.first?["created"] == true)
            #expect(answer.json["runs"] == answer.json["started"])  // what clients read before `started`
            let rejected = try #require(answer.json["rejected"]?.arrayValue)
            #expect(rejected.map { $0["workflow"] } == ["charge"])
            let errors = try #require(rejected.first?["errors"]?.arrayValue)
            #expect(errors.first?.stringValue?.hasPrefix("amount: ") == true, "\(errors)")
            let id = try #require(rejected.first?["dead_letter_id"]?.stringValue)
            #expect(id.hasPrefix("dl-"))
            let run = try #require(started.first?["run_id"]?.stringValue)
            #expect(try await client.waitForStatus(run, ["completed"])["status"] == "completed")

            // Listed (without the payload), and read whole by id.
            let list = try await client.get("/v1/dead-letters", token: Tokens.operator)
            #expect(list.status == 200)
            let summary = try #require(list.json["dead_letters"]?.arrayValue?.first)
            #expect(list.json["dead_letters"]?.arrayValue?.count == 1)
            #expect(list.json["next"] == .null)
            #expect(summary["id"] == .string(id))
            #expect(summary["event"]?["type"] == "order:placed")
            #expect(summary["event"]?["payload"] == nil)
            let letter = try await client.get("/v1/dead-letters/\(id)", token: Tokens.operator)
            #expect(letter.status == 200)
            #expect(letter.json["workflow"] == "charge")
            #expect(letter.json["version"] == "2")
            #expect(letter.json["definition_hash"] == (try await client.get("/v1/workflows/charge").json["hash"]))
            #expect(letter.json["status"] == "open")
            #expect(letter.json["event"] == ["type": "order:placed", "id": "evt-1", "source": "api", "payload": ["amount": "ten"]])
            #expect(letter.json["input"] == ["amount": "ten"])
            #expect(letter.json["errors"] == .array(errors))
            #expect(letter.json["created_at"]?.stringValue?.hasSuffix("Z") == true)

            // The same event again names the same dead letter and the same run.
            let again = try await client.post("/v1/events", event, token: Tokens.alice)
            #expect(again.status == 202)
            #expect(again.json["rejected"]?.arrayValue?.first?["dead_letter_id"] == .string(id))
            #expect(again.json["started"]?.arrayValue?.first?["created"] == false)
            #expect(try await client.get("/v1/dead-letters").json["dead_letters"]?.arrayValue?.count == 1)

            // Run details: operators and admins only; an unknown id is a 404.
            #expect(try await client.get("/v1/dead-letters", token: Tokens.alice).status == 403)
            #expect(try await client.get("/v1/dead-letters/\(id)", token: Tokens.alice).status == 403)
            let unknown = try await client.get("/v1/dead-letters/dl-nope")
            #expect(unknown.status == 404)
            #expect(unknown.json["error"]?["type"] == "NotFound")
        }
    }

    @Test func whenEveryMatchingWorkflowRefusesTheAnswerIs400AndTheRefusalsAreKept() async throws {
        try await TestServer.run(Self.files) { client in
            let answer = try await client.post("/v1/events", ["type": "refund.requested", "payload": ["amount": 1.5]])
            #expect(answer.status == 400)
            #expect(answer.json["error"]?["type"] == "SchemaInvalid")
            #expect(answer.json["error"]?["details"]?.arrayValue?.isEmpty == false)
            #expect(answer.json["started"] == [])
            #expect(answer.json["runs"] == [])
            let id = try #require(answer.json["rejected"]?.arrayValue?.first?["dead_letter_id"]?.stringValue)
            let letters = try await client.get("/v1/dead-letters?workflow=refund").json["dead_letters"]?.arrayValue ?? []
            #expect(letters.map { $0["id"] } == [.string(id)])
            #expect(try await client.get("/v1/runs?workflow=refund").json["runs"] == [])
            // No workflow matches: 202 and nothing, as before.
            let none = try await client.post("/v1/events", ["type": "nobody:listens", "payload": [:]])
            #expect(none.status == 202)
            #expect(none.json["started"] == [] && none.json["rejected"] == [])
            #expect(try await client.get("/v1/dead-letters").json["dead_letters"]?.arrayValue?.count == 1)
        }
    }

    @Test func listsArePagedNewestFirstAndFilteredByWorkflow() async throws {
        try await TestServer.run(Self.files) { client in
            var ids: [Value] = []
            for amount in ["a", "b", "c"] {
                let answer = try await client.post("/v1/events", ["type": "refund.requested", "payload": ["amount": .string(amount)]])
                ids.append(answer.json["rejected"]?.arrayValue?.first?["dead_letter_id"] ?? .null)
            }
            _ = try await client.post("/v1/events", ["type": "order:placed", "payload": [:]])
            let first = try await client.get("/v1/dead-letters?workflow=refund&limit=2").json
            #expect(first["dead_letters"]?.arrayValue?.map { $0["id"] } == [ids[2], ids[1]])
            let cursor = try #require(first["next"]?.stringValue)
            let second = try await client.get("/v1/dead-letters?workflow=refund&limit=2&after=\(cursor)").json
            #expect(second["dead_letters"]?.arrayValue?.map { $0["id"] } == [ids[0]])
            #expect(second["next"] == .null)
            #expect(try await client.get("/v1/dead-letters").json["dead_letters"]?.arrayValue?.first?["workflow"] == "charge")
            #expect(try await client.get("/v1/dead-letters?limit=0").status == 400)
            #expect(try await client.get("/v1/dead-letters?after=dl-nope").status == 400)
        }
    }

    @Test func theStreamAnnouncesDeadLettersAndEmittedEventsAreKeptToo() async throws {
        try await TestServer.run(Self.files) { client in
            let response = try await EventAndStreamTests.openStream(client, "?type=dead_letter.")
            var chunks = response.body.makeAsyncIterator()
            _ = try await chunks.next()  // the opening comment: the subscription is in place
            // A script's event that its only listener refuses.
            let run = try #require(try await client.post("/v1/runs", ["workflow": "emitter"]).json["run_id"]?.stringValue)
            #expect(try await client.waitForStatus(run, ["completed", "failed"])["status"] == "completed")
            let text = try await EventAndStreamTests.read(&chunks, until: "event: dead_letter.created")
            #expect(text.contains("event: dead_letter.created\ndata: {\"type\":\"dead_letter.created\",\"run_id\":\"\",\"workflow\":\"refund\""))
            let letters = try await client.get("/v1/dead-letters?workflow=refund").json["dead_letters"]?.arrayValue ?? []
            let id = try #require(letters.first?["id"]?.stringValue)
            #expect(text.contains("\"dead_letter_id\":\"\(id)\""))
            let letter = try await client.get("/v1/dead-letters/\(id)").json
            #expect(letter["event"] == ["type": "refund.requested", "id": .null, "source": "emit", "run_id": .string(run), "payload": ["amount": "all of it"]])
        }
    }

    @Test func theDeadLetterEventTypeCannotBePosted() async throws {
        try await TestServer.run(Self.files) { client in
            let answer = try await client.post("/v1/events", ["type": "dead_letter.created", "payload": [:]])
            #expect(answer.status == 400)
            #expect(answer.json["error"]?["details"]?["path"] == "$.type")
        }
    }
}

import Foundation
import MoonflowModel
import Testing

/// A refused event's dead letter is redriven once the workflow is fixed (reloaded): the run starts
/// under the key the first start would have had, the letter is `redriven` with its run; one that
/// is still refused, discarded or redriven already is a 409 and changes nothing.
@Suite("Dead letters: redrive and discard", .timeLimit(.minutes(1)))
struct DeadLetterRedriveAPITests {
    static func charge(amount type: String) -> String {
        """
        workflow: charge
        trigger: {event: "order:placed"}
        input:
          type: object
          required: [amount]
          properties: {amount: {type: \(type)}}
        activities:
          - {name: a, run: "return {amount = input.amount}"}
        """
    }

    @Test func redriveAfterAFixStartsTheRunAndDiscardDropsALetter() async throws {
        let root = try TestServer.project(["workflows/charge.yaml": Self.charge(amount: "integer")])
        defer { try? FileManager.default.removeItem(at: root) }
        try await TestServer.run(project: root) { client in
            var ids: [String] = []
            for event in ["evt-1", "evt-2"] {
                let answer = try await client.post("/v1/events", ["type": "order:placed", "id": .string(event), "payload": ["amount": "ten"]])
                ids.append(try #require(answer.json["rejected"]?.arrayValue?.first?["dead_letter_id"]?.stringValue))
            }
            // Still refused: 409, the letter stays open.
            #expect(try await client.post("/v1/dead-letters/\(ids[0])/redrive", token: Tokens.alice).status == 403)
            let still = try await client.post("/v1/dead-letters/\(ids[0])/redrive")
            #expect(still.status == 409 && still.text.contains("still refuses"), "\(still.text)")
            #expect(try await client.get("/v1/dead-letters/\(ids[0])").json["status"] == "open")

            try Self.charge(amount: "string").write(to: root.appendingPathComponent("workflows/charge.yaml"), atomically: true, encoding: .utf8)
            #expect(try await client.post("/v1/reload").status == 200)
            let redriven = try await client.post("/v1/dead-letters/\(ids[0])/redrive")
            #expect(redriven.status == 200, "\(redriven.text)")
            #expect(redriven.json["created"] == true)
            let runID = try #require(redriven.json["run_id"]?.stringValue)
            #expect(redriven.json["dead_letter"]?["status"] == "redriven")
            let run = try await client.waitForStatus(runID, ["completed"])
            #expect(run["workflow"] == "charge")
            #expect(try await client.get("/v1/runs/\(runID)/report").json["output"] == ["amount": "ten"])
            let stored = try await client.get("/v1/dead-letters/\(ids[0])").json
            #expect(stored["status"] == "redriven" && stored["run_id"] == .string(runID))
            #expect(try await client.post("/v1/dead-letters/\(ids[0])/redrive").status == 409)

            let discarded = try await client.post("/v1/dead-letters/\(ids[1])/discard")
            #expect(discarded.status == 200 && discarded.json["status"] == "discarded")
            #expect(try await client.post("/v1/dead-letters/\(ids[1])/redrive").status == 409)
            #expect(try await client.post("/v1/dead-letters/dl-nope/discard").status == 404)
        }
    }
}

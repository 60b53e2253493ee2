import MoonflowEngine
import MoonflowModel
import Testing

/// The engine's JSON Schema seam over `MoonflowSchema`, with references between pinned files.
@Suite struct JSONSchemaValidatorTests {
    let validator = JSONSchemaValidator(schemaFiles: [
        "schemas/payment.json": ["type": "object", "required": ["amount"], "properties": ["amount": ["$ref": "common.json#/$defs/money"]]],
        "schemas/common.json": ["$defs": ["money": ["type": "number", "minimum": 0]]],
    ])

    @Test func aPinnedFileResolvesItsRelativeReferences() {
        let payment: Value = ["type": "object", "required": ["amount"], "properties": ["amount": ["$ref": "common.json#/$defs/money"]]]
        #expect(validator.validate(["amount": 12.5], against: payment).isEmpty)
        #expect(validator.validate(["amount": -1], against: payment) == ["amount: must be >= 0"])
        #expect(validator.validate([:], against: payment) == ["(root): missing required property 'amount'"])
    }

    @Test func inlineSchemasReachProjectFilesFromTheWorkflowsFolder() {
        let inline: Value = ["type": "array", "items": ["$ref": "../schemas/common.json#/$defs/money"]]
        #expect(validator.validate([1, 2], against: inline).isEmpty)
        #expect(validator.validate([1, "x"], against: inline) == ["1: must be number, got string"])
    }

    @Test func anUnusableSchemaIsReportedNotAccepted() {
        #expect(validator.validate(1, against: ["$ref": "missing.json"]).first?.hasPrefix("the schema cannot be used:") == true)
    }

    @Test func theEngineRefusesABadRunInputWithFieldPathsAndStoresNothing() async throws {
        let h = Harness(validator: validator)
        let workflow = Workflow(
            id: "pay", input: SchemaDefinition(schema: ["$ref": "../schemas/payment.json"]),
            activities: [Activity(name: "a", body: .builtin(.noop))])
        await #expect(throws: ActivityFailure.self) { try await h.engine.start(workflow: workflow, definitionHash: "h", input: ["amount": -5]) }
        do {
            _ = try await h.engine.start(workflow: workflow, definitionHash: "h", input: ["amount": -5])
        } catch let failure as ActivityFailure {
            #expect(failure.type == .schemaInvalid)
            #expect(failure.details == ["amount: must be >= 0"])
        }
        #expect(try await h.store.runs(status: nil).isEmpty)
    }
}

import Foundation
import Testing

/// `moonflow schema check`, run as the built binary: golden output and exit codes.
@Suite("moonflow schema check")
struct SchemaCommandTests {
    /// A scratch directory with a schema that `$ref`s a sibling file, and some documents.
    static func project() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("schema-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let files = [
            "order.json": #"{"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "format": "uuid"}, "items": {"type": "array", "items": {"$ref": "item.json"}}}}"#,
            "item.json": #"{"type": "object", "properties": {"price": {"type": "number", "minimum": 0}}, "additionalProperties": false}"#,
            "good.json": #"{"id": "not-a-uuid", "items": [{"price": 1}]}"#,
            "bad.json": #"{"items": [{"price": -1, "colour": "red"}]}"#,
            "broken.json": "{\n  \"id\": 1,\n}\n",
            "escape.json": #"{"$ref": "../outside.json"}"#,
        ]
        for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    @Test func validDocument() async throws {
        let result = try await CLIRunner.run(["schema", "check", "order.json", "good.json"], in: try Self.project())
        #expect(result.status == 0)
        #expect(result.stdout == "valid\n")
    }

    @Test func invalidDocumentListsEveryError() async throws {
        let result = try await CLIRunner.run(["schema", "check", "order.json", "bad.json"], in: try Self.project())
        #expect(result.status == 1)
        #expect(result.stdout == """
            (root): missing required property 'id'
            /items/0/price: must be >= 0
            /items/0/colour: unknown property

            """)
    }

    @Test func jsonFormat() async throws {
        let result = try await CLIRunner.run(["schema", "check", "--format", "json", "order.json", "bad.json"], in: try Self.project())
        #expect(result.status == 1)
        #expect(result.stdout == """
            {
              "valid": false,
              "errors": [
                {
                  "instance_path": "",
                  "schema_path": "/required",
                  "message": "missing required property 'id'"
                },
                {
                  "instance_path": "/items/0/price",
                  "schema_path": "/properties/items/items/$ref/properties/price/minimum",
                  "message": "must be >= 0"
                },
                {
                  "instance_path": "/items/0/colour",
                  "schema_path": "/properties/items/items/$ref/additionalProperties",
                  "message": "unknown property"
                }
              ]
            }

            """)
    }

    @Test func standardInputAndFormatAssertion() async throws {
        let dir = try Self.project()
        let plain = try await CLIRunner.run(["schema", "check", "order.json", "-"], stdin: #"{"id": "x"}"#, in: dir)
        #expect(plain.status == 0)
        let asserted = try await CLIRunner.run(["schema", "check", "--assert-format", "order.json", "-"], stdin: #"{"id": "x"}"#, in: dir)
        #expect(asserted.status == 1)
        #expect(asserted.stdout == "/id: must be a valid uuid\n")
    }

    @Test func syntaxErrorNamesFileLineAndColumn() async throws {
        let result = try await CLIRunner.run(["schema", "check", "order.json", "broken.json"], in: try Self.project())
        #expect(result.status == 1)
        #expect(result.stderr == "broken.json:3:1: error: expected a string key, found '}'\n")
        let stdin = try await CLIRunner.run(["schema", "check", "order.json", "-"], stdin: "[1,", in: try Self.project())
        #expect(stdin.status == 1)
        #expect(stdin.stderr == "<stdin>:1:4: error: unexpected end of input, expected a value\n")
    }

    @Test func schemaReachingOutsideItsDirectoryIsRefused() async throws {
        let result = try await CLIRunner.run(["schema", "check", "escape.json", "good.json"], in: try Self.project())
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("escape.json: error: invalid schema: /$ref: cannot load "))
        #expect(result.stderr.contains("refused: the file is outside the schema directory"))
    }

    @Test func usageErrors() async throws {
        let dir = try Self.project()
        #expect(try await CLIRunner.run(["schema", "check", "order.json"], in: dir).status == 2)
        let missing = try await CLIRunner.run(["schema", "check", "order.json", "nope.json"], in: dir)
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: cannot read nope.json\n")
    }

    @Test func helpSaysYAMLIsNotSupported() async throws {
        let result = try await CLIRunner.run(["schema", "check", "--help"])
        #expect(result.stdout.contains("YAML data files are not supported"))
    }
}

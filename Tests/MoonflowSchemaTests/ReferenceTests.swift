import Foundation
import MoonflowModel
import Testing

@testable import MoonflowSchema

/// `$ref` across files under a schemas directory, and what must not resolve.
@Suite("References across files")
struct ReferenceTests {
    static let directory = TestPaths.fixtures.appendingPathComponent("schemas")
    static let resolver = FileSchemaResolver(root: directory)

    static func schema(_ name: String) throws -> JSONSchema {
        let url = directory.appendingPathComponent(name)
        return try JSONSchema(try loadJSON(url), baseURI: url, resolver: resolver)
    }

    @Test func siblingAndNestedFilesResolve() throws {
        let order = try Self.schema("order.json")
        #expect(order.isValid(["total": 10, "items": [["price": 1.5]]]))
        #expect(order.validate(["total": 10, "items": [["price": -1]]]) == [
            SchemaError(
                instancePath: "/items/0/price", schemaPath: "/properties/items/items/$ref/properties/price/$ref/minimum",
                message: "must be >= 0")
        ])
    }

    @Test func refEscapingTheDirectoryIsRefused() throws {
        do {
            _ = try Self.schema("escape.json")
            Issue.record("compiled a schema reaching outside its directory")
        } catch let error as SchemaCompileError {
            #expect(error.code == .resolutionFailed)
            #expect(error.schemaPath == "/properties/name/$ref")
            #expect(error.message.contains("refused: the file is outside the schema directory"))
        }
    }

    @Test func missingFileIsAnUnresolvedReference() throws {
        #expect(throws: SchemaCompileError.self) { _ = try Self.schema("dangling.json") }
    }

    @Test func recursiveSchemaValidatesDeepTrees() throws {
        let tree = try Self.schema("tree.json")
        var value: Value = ["value": 1]
        for _ in 0..<100 { value = ["value": 1, "children": [value, ["value": 2]]] }
        #expect(tree.isValid(value))
        #expect(!tree.isValid(["children": [["children": [["value": "x"]]]]]))
        #expect(tree.validate(["children": [["children": [["typo": 1]]]]]).map(\.instancePath) == ["/children/0/children/0/typo"])
    }

    @Test func mutuallyRecursiveFiles() throws {
        let ping = try Self.schema("ping.json")
        #expect(ping.isValid([[1, [2]], 3]))
        #expect(!ping.isValid([[1, ["x"]]]))
    }

    @Test func cycleThatConsumesNothingStopsAtTheDepthLimit() throws {
        let schema = try JSONSchema(["$defs": ["a": ["$ref": "#/$defs/b"], "b": ["$ref": "#/$defs/a"]], "$ref": "#/$defs/a"])
        let errors = schema.validate(1)
        #expect(errors.count == 1)
        #expect(errors.first?.message == "is nested too deeply: schema evaluation stops at depth 512")
        #expect(!schema.isValid(1))
    }

    @Test func deepInstancesFailCleanlyInsteadOfOverflowingTheStack() throws {
        let schema = try JSONSchema(["$defs": ["node": ["type": "array", "items": ["$ref": "#/$defs/node"]]], "$ref": "#/$defs/node"])
        func nested(_ depth: Int) -> Value {
            var value: Value = []
            for _ in 0..<depth { value = [value] }
            return value
        }
        #expect(schema.isValid(nested(200)))
        let deep = nested(1000)
        #expect(!schema.isValid(deep))
        #expect(schema.validate(deep).first?.message.hasPrefix("is nested too deeply") == true)
        // Each level costs two nodes (`items`, then the `$ref`'d root); a raised limit goes deeper
        // (a debug build overflows an 8 MB stack near 1,900 nested nodes, see docs/json-schema.md).
        let roomy = try JSONSchema(["items": ["$ref": "#"]], options: .init(maxDepth: 1800))
        #expect(roomy.isValid(nested(850)))
        #expect(roomy.validate(nested(850)) == [])
    }

    @Test func anchorsIdsAndPointerEscapes() throws {
        let schema = try JSONSchema(try Value(json: #"""
            {"$id": "https://example.com/root.json",
             "$defs": {"a/b": {"type": "integer"}, "c%d": {"type": "string"},
                       "x": {"$id": "nested/x.json", "$anchor": "here", "type": "boolean"}},
             "properties": {"p": {"$ref": "#/$defs/a~1b"}, "q": {"$ref": "#/$defs/c%25d"},
                            "r": {"$ref": "nested/x.json#here"}, "s": {"$ref": "https://example.com/nested/x.json"}}}
            """#))
        #expect(schema.isValid(["p": 1, "q": "s", "r": true, "s": false]))
        #expect(schema.validate(["p": "1", "q": 1, "r": 1, "s": 1]).map(\.instancePath) == ["/p", "/q", "/r", "/s"])
    }

    @Test func metaschemaIsBuiltIn() throws {
        let meta = try JSONSchema(["$ref": "https://json-schema.org/draft/2020-12/schema"])
        #expect(meta.isValid(["type": "string", "minLength": 1]))
        #expect(!meta.isValid(["properties": ["a": ["minLength": -1]]]))
    }
}

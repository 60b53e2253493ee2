import Foundation
import MoonflowModel
import Testing

@testable import MoonflowSchema

/// A bad schema is a `SchemaCompileError` naming the keyword's path.
@Suite("Compile errors")
struct CompileErrorTests {
    static let cases: [(schema: String, code: SchemaCompileError.Code, path: String, message: String)] = [
        (#"{"type": "strin"}"#, .invalidKeyword, "/type", #"type has an unknown type "strin""#),
        (#"{"properties": {"a": {"minLength": -1}}}"#, .invalidKeyword, "/properties/a/minLength", "minLength must be a non-negative integer"),
        (#"{"properties": {"a": 3}}"#, .invalidKeyword, "/properties/a", "a schema must be an object or a boolean, not integer"),
        (#"{"pattern": "a("}"#, .invalidRegex, "/pattern", "invalid regular expression a("),
        (#"{"patternProperties": {"[": true}}"#, .invalidRegex, "/patternProperties/[", "invalid regular expression ["),
        (#"{"required": ["a", "a"]}"#, .invalidKeyword, "/required", "required lists 'a' twice"),
        (#"{"multipleOf": 0}"#, .invalidKeyword, "/multipleOf", "multipleOf must be a number greater than 0"),
        (#"{"allOf": []}"#, .invalidKeyword, "/allOf", "allOf must be a non-empty array of schemas"),
        (##"{"$defs": {"x": {"$ref": "#/$defs/nope"}}}"##, .unresolvedReference, "/$defs/x/$ref",
         "cannot resolve #/$defs/nope (urn:moonflow:schema#/$defs/nope): nothing at this JSON Pointer"),
        (##"{"$ref": "#nowhere"}"##, .unresolvedReference, "/$ref", "cannot resolve #nowhere (urn:moonflow:schema#nowhere): no anchor 'nowhere'"),
        (#"{"$ref": "https://example.com/other.json"}"#, .unresolvedReference, "/$ref",
         "cannot resolve https://example.com/other.json (https://example.com/other.json): no schema with this URI"),
    ]

    @Test(arguments: cases.indices)
    func badSchema(_ index: Int) throws {
        let c = Self.cases[index]
        #expect(throws: SchemaCompileError(code: c.code, schemaPath: c.path, message: c.message)) {
            _ = try JSONSchema(try Value(json: c.schema))
        }
    }

    @Test func unknownRequiredVocabularyIsRefused() throws {
        let meta: Value = [
            "$id": "https://example.com/meta", "$vocabulary": ["https://example.com/vocab/magic": true],
        ]
        let resolver = InMemorySchemaResolver(["https://example.com/meta": meta])
        #expect(throws: SchemaCompileError.self) {
            _ = try JSONSchema(["$schema": "https://example.com/meta"], resolver: resolver)
        }
    }

    @Test func regexesAreCompiledOnceAndUnknownKeywordsIgnored() throws {
        let schema = try JSONSchema(["x-extension": ["pattern": "("], "properties": ["a": ["pattern": "^a"], "b": ["pattern": "^a"]]])
        #expect(schema.isValid(["a": "abc", "b": "a"]))
        #expect(!schema.isValid(["a": "abc", "b": "b"]))
    }
}
